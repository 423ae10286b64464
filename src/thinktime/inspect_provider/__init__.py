"""thinktime as an Inspect AI model provider: `inspect eval TASK --model thinktime/MODEL`.

Inspect (UK AISI's evaluation framework) loads model providers from packages that register
an `inspect_ai` entry point; thinktime's points at `_registry`, which registers the provider
`thinktime` lazily, so importing Inspect never loads an engine. Every Inspect `generate`
becomes one `thinktime.solve` call, so an Inspect eval gets the strategy's answer and the
bill (tokens, reasoning tokens, dollars) in its own usage, and the votes and samples in the
output's metadata:

    pip install 'thinktime[inspect]'
    inspect eval task.py --model thinktime/qwen2.5-coder-0.5b \\
        -M strategy=self_consistency -M n=8 --max-tokens 256

`args` turns the `-M` model args into one typed run (once, when Inspect builds the model),
`convert` maps Inspect's messages, tools and generate config in and a `Result` out, and
`provider` is the `ModelAPI` that joins them. See docs/inspect.md.
"""
