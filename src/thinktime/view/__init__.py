"""`thinktime view`: a local trace viewer over bench stores (and a live server's recent answers).

JSON routes (`app.py`, documented at `/docs`) answer every question the page asks; the page
(`static/`) is plain HTML, JS and CSS shipped in the wheel — no CDN, no build step — and reads
only those routes. Stores are opened read-only (`catalog.py`); the numbers come from the bench's
own code (`bench.results`: accuracy with its bootstrap CI, curves, Pareto; `answers.voting`:
equivalence classes).

    $ thinktime view --store docs/results/headline/gsm8k.db  # then open http://127.0.0.1:8765
"""
