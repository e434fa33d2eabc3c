"""The fusion pipeline's stages (DESIGN.md §3), one module per part of the data flow:
:mod:`~pipelines.stages.scenes` (search, assess, plan jobs), :mod:`~pipelines.stages.blocks`
(plan and read blocks), :mod:`~pipelines.stages.inference` (RunInference with the model
package) and :mod:`~pipelines.stages.products` (assemble, write, publish)."""
