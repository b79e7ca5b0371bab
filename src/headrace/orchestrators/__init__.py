"""Where steps run. Every orchestrator consumes a PipelineSpec and calls ``run_step``."""

from headrace.orchestrators.base import Orchestrator, load_orchestrator

__all__ = ["Orchestrator", "load_orchestrator"]
