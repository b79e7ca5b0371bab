"""``@step`` and ``@pipeline``: plain functions become steps, and calling steps inside a
pipeline body traces a DAG.

Outside a pipeline a step is its plain function, so steps stay unit-testable. Inside a
pipeline body each call returns placeholders for the step's outputs; tracing the body
yields a :class:`~headrace.spec.PipelineSpec`. Every wiring mistake is a DefinitionError
naming the step, raised before anything runs or is written.

- ``_step``: the decorator and :class:`Step`; ``_options``: checking step options;
- ``_outputs``: reading outputs from return annotations;
- ``_tracing``: placeholders and the tracer that builds the spec;
- ``_pipeline``: the decorator and :class:`Pipeline`; ``_config``: YAML run configs.
"""

from headrace.pipelines._config import load_run_config
from headrace.pipelines._pipeline import Pipeline, pipeline
from headrace.pipelines._step import Step, step
from headrace.pipelines._tracing import OutputRef

__all__ = ["OutputRef", "Pipeline", "Step", "load_run_config", "pipeline", "step"]
