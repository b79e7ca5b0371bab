"""Run one step given only a pipeline spec, store settings and input artifact versions.

Import from the submodules: ``step_runner`` (run_step, load_artifact), ``runs``
(start_run, finish_run), ``stores`` (open_stores), ``context`` (get_step_context). This
package's ``__init__`` stays empty so that ``import headrace`` loads no store code.
"""
