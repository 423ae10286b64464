"""An HTML report of a store: the summary table, verdict diagnostics, pool curves and plots,
in one self-contained file (plots embedded as PNG).

    thinktime report --store runs/gsm8k.db --out runs/gsm8k.html
"""

from __future__ import annotations

import base64
import html
from pathlib import Path

from thinktime.bench.matched import matched
from thinktime.bench.plots import plot, plot_models
from thinktime.bench.results import Point, curve_points, summarize
from thinktime.bench.show import CAPTION
from thinktime.bench.store import Store


def _number(value: float | None, digits: int) -> str:
    return "—" if value is None else f"{value:,.{digits}f}"


def _png(path: str) -> str:
    return base64.b64encode(Path(path).read_bytes()).decode()


def build_report(
    store: Store, out: str | Path, title: str = "thinktime bench", points: list[Point] | None = None
) -> Path:
    """Write the report; `points` are the store's curve points when the caller has them."""
    summaries = summarize(store)
    points = curve_points(store) if points is None else points
    rows = "".join(
        f"<tr><td>{html.escape(s.model)}</td><td>{html.escape(s.config)}</td><td>{s.n}</td>"
        f"<td>{100 * s.accuracy:.1f}% [{100 * s.ci[0]:.1f}, {100 * s.ci[1]:.1f}]</td>"
        f"<td>{s.tokens:.0f}</td><td>{'—' if s.flops is None else f'{s.flops:.3g}'}</td>"
        f"<td>{_number(s.tokens_per_second, 1)}</td><td>{_number(s.wall_seconds, 2)}</td>"
        f"<td>{_number(s.in_flight, 1)}</td>"
        f"<td>{', '.join(f'{k} {v}' for k, v in s.verdicts.items() if v)}</td></tr>"
        for s in summaries
    )
    curve = "".join(
        f"<tr><td>{html.escape(p.model)}</td><td>{html.escape(p.config)}</td><td>{p.k}</td>"
        f"<td>{100 * p.accuracy:.1f}%</td><td>{100 * (p.pass_at_k or 0):.1f}%</td>"
        f"<td>{p.tokens:.0f}</td></tr>"
        for p in points
        if p.k is not None
    )
    matched_rows = "".join(
        f"<tr><td>{html.escape(m.model)}</td><td>{html.escape(m.config)}</td>"
        f"<td>{m.flops:.3g}</td><td>{100 * m.accuracy:.1f}%</td><td>{html.escape(m.rival)}</td>"
        f"<td>{html.escape(m.rival_config or '—')}</td>"
        f"<td>{'—' if m.rival_flops is None else f'{m.rival_flops:.3g}'}</td>"
        f"<td>{'—' if m.rival_accuracy is None else f'{100 * m.rival_accuracy:.1f}%'}</td></tr>"
        for m in matched(points)
    )
    # the plots are written beside the report as PNGs too, for READMEs
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    images = []
    pngs = [
        plot(points, cost, out.with_name(f"{out.stem}_{cost}.png"), f"accuracy vs {cost}")
        for cost in ("tokens", "flops")
    ]
    pngs.append(
        plot_models(points, out.with_name(f"{out.stem}_models.png"), "models at equal FLOPs")
    )
    for png in pngs:
        images.append(f'<img alt="{Path(png).stem}" src="data:image/png;base64,{_png(png)}">')
    page = f"""<!doctype html><html><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:4px 8px;text-align:right}}img{{max-width:48%}}</style></head>
<body><h1>{html.escape(title)}</h1>
<h2>Summary</h2><table><tr><th>model</th><th>config</th><th>n</th><th>accuracy [95% CI]</th>
<th>tokens/q</th><th>FLOPs/q</th><th>tok/s (engine)</th><th>wall s/q</th><th>in flight</th>
<th>verdicts</th></tr>{rows}</table><p>{html.escape(CAPTION)}</p>
<h2>Accuracy vs compute</h2>{"".join(images)}
<h2>Pool curves (maj@k, pass@k)</h2><table><tr><th>model</th><th>config</th><th>k</th>
<th>maj@k</th><th>pass@k</th><th>tokens/q</th></tr>{curve}</table>
<h2>Models at matched FLOPs</h2><p>For each point, the other model's best accuracy at no more
FLOPs per question.</p><table><tr><th>model</th><th>config</th><th>FLOPs/q</th><th>accuracy</th>
<th>rival</th><th>rival's best config within</th><th>its FLOPs/q</th><th>its accuracy</th></tr>
{matched_rows}</table></body></html>"""
    out.write_text(page)
    return out
