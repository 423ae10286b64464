"""`python -m thinktime.lm_eval_model …`: lm-eval's command line with `--model thinktime`.

Every argument goes to lm-eval's own CLI (`run`, `ls`, `validate`, all their flags), after
this import has registered the model:

    python -m thinktime.lm_eval_model run --model thinktime \\
        --model_args model=fake,strategy=self_consistency,n=4 --tasks TASK.yaml
"""

from lm_eval.__main__ import cli_evaluate

import thinktime.lm_eval_model  # noqa: F401  (registers `thinktime` with lm-eval)

if __name__ == "__main__":
    cli_evaluate()
