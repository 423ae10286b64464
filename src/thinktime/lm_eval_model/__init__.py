"""thinktime as an lm-evaluation-harness model: `--model thinktime`, every strategy.

lm-evaluation-harness (EleutherAI's `lm-eval`) finds models in its own registry; a model
defined outside it is registered by importing the module that calls `register_model` (0.4.13
has no entry-point group for models, and `--include_path` loads tasks, not models). So:

- from the shell, `python -m thinktime.lm_eval_model` is lm-eval's own command line, unchanged,
  with the model `thinktime` registered first:

      python -m thinktime.lm_eval_model run --model thinktime \\
          --model_args model=qwen2.5-coder-0.5b,strategy=self_consistency,n=4 \\
          --tasks gsm8k --limit 20 --output_path out --log_samples

- from Python, importing this package registers it for `lm_eval.simple_evaluate`:

      import lm_eval, thinktime.lm_eval_model
      lm_eval.simple_evaluate(model="thinktime", model_args="model=fake,strategy=cot", …)

Each generate request is one `thinktime.solve` call (`model.ThinktimeLM`); see docs/lm_eval.md.
"""

from thinktime.lm_eval_model.model import ThinktimeLM

__all__ = ["ThinktimeLM"]
