"""The run's results as ``results.json``, a Markdown report (``results.md``) and a chart (``chart.png``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from vipsfront_bench.origins import AGAINST, DEPLOYED
from vipsfront_bench.origins import OPS as ORIGIN_OPS
from vipsfront_bench.scenarios import OPS

PEER_ORDER = ("origin", "engine", "bare", "pillow", "pillow-simd", "sharp", "thumbor")


def _f(value: float | None, digits: int = 1) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join(["---"] + ["---:"] * (len(header) - 1)) + " |"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


def goals(results: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(goal, met / not met / not measured, the figures) for issue 3's and issue 5's goals."""
    r = results["ratios"]
    out: list[tuple[str, str, str]] = []

    def verdict(ok: bool | None) -> str:
        return "not measured" if ok is None else ("met" if ok else "not met")

    misses = {k: v for k, v in r["miss_p50_over_bare_p50"].items() if v is not None}
    worst = max(misses.values()) if misses else None
    out.append(
        (
            "cache miss through the origin ≤ 1.15x the bare engine (p50)",
            verdict(None if worst is None else worst <= 1.15),
            f"geomean {_f(r['geomean']['miss_over_bare'], 2)}x, worst {_f(worst, 2)}x "
            f"({', '.join(f'{k} {v:.2f}' for k, v in misses.items())})",
        )
    )
    misses = {k: v for k, v in r["miss_p50_over_engine_p50"].items() if v is not None}
    worst = max(misses.values()) if misses else None
    out.append(
        (
            "cache miss through the origin ≤ 1.15x the engine alone (p50)",
            verdict(None if worst is None else worst <= 1.15),
            f"geomean {_f(r['geomean']['miss_over_engine'], 2)}x, worst {_f(worst, 2)}x",
        )
    )
    hits = {k: v for k, v in r["hit_p50_over_s3_get_p50"].items() if v is not None}
    worst = max(hits.values()) if hits else None
    out.append(
        (
            "cache hit ≤ 1.2x a bare S3 GET of the variant (p50)",
            verdict(None if worst is None else worst <= 1.2),
            f"geomean {_f(r['geomean']['hit_over_s3_get'], 2)}x, worst {_f(worst, 2)}x",
        )
    )
    tp = r["throughput_c2"]

    def lead(other: str, ops: list[str], need: float = 1.0) -> tuple[str, str]:
        figures = [(op, tp[op]["ratios"].get(f"origin/{other}")) for op in ops]
        known = [(op, v) for op, v in figures if v is not None]
        if not known:
            return "not measured", f"{other} did not run"
        ok = all(v > need for _, v in known)
        return verdict(ok), ", ".join(f"{op} {v:.2f}x" for op, v in known)

    all_ops = [op.id for op in OPS]
    out.append(("origin throughput ahead of thumbor on every op (2 in flight)", *lead("thumbor", all_ops)))
    png_ops = ["largepng-1200-webp"]
    out.append(
        (
            "ahead of thumbor by imgproxy's lead where libvips has the edge (PNG → WebP > 1.7x)",
            *lead("thumbor", png_ops, 1.7),
        )
    )
    jpeg_photo = ["photo-400-jpeg", "photo-400-webp", "photo-1200-jpeg", "photo-1200-webp"]
    out.append(("at least Pillow-SIMD's throughput on JPEG photos", *lead("pillow-simd", jpeg_photo, 0.999)))
    figures = [(op, tp[op]["ratios"].get("engine/pillow-simd")) for op in jpeg_photo]
    known = [(op, v) for op, v in figures if v is not None]
    out.append(
        (
            "engine alone at least Pillow-SIMD's throughput on JPEG photos (2 in flight)",
            verdict(all(v >= 1.0 for _, v in known) if known else None),
            ", ".join(f"{op} {v:.2f}x" for op, v in known) or "pillow-simd did not run",
        )
    )
    out.append(("ahead of sharp (every op)", *lead("sharp", all_ops)))
    sweep_rss = max(
        (level["rss"]["peak_mb"] for op in results["sweep"]["ops"].values() for level in op.values()), default=None
    )
    thumbor = results["peers"].get("thumbor", {})
    thumbor_rss = max((v.get("rss_peak_mb") or 0 for v in thumbor.values() if isinstance(v, dict)), default=None)
    large = results["sweep"]["ops"].get("large-1200-jpeg", {})
    large_rss = max((level["rss"]["peak_mb"] for level in large.values()), default=None)
    large_c2 = (large.get("2") or {}).get("rss", {}).get("peak_mb")
    thumbor_large = thumbor.get("large-1200-jpeg", {}).get("rss_peak_mb")
    out.append(
        (
            "peak RSS no worse than thumbor's on the 14.7 MP JPEG sweep (server trees, same workers, 2 in flight)",
            verdict(None if not thumbor_large or large_c2 is None else large_c2 <= thumbor_large),
            f"origin {_f(large_c2, 0)} MB at 2 clients ({_f(large_rss, 0)} MB at most over the sweep), "
            f"thumbor {_f(thumbor_large, 0)} MB; "
            f"every op: origin {_f(sweep_rss, 0)} MB, thumbor {_f(thumbor_rss, 0)} MB",
        )
    )
    imp = results["cold_start"]["handler_import_s"].get("p50")
    out.append(("Lambda handler import ≤ 0.5 s (p50)", verdict(None if imp is None else imp <= 0.5), f"{_f(imp, 2)} s"))
    reference = results["cost"].get("reference")
    if reference:
        compute = reference.get("compute_usd_per_million")
        out.append(
            (
                "compute cost ≤ $1.50 per million for the reference op (4 MP JPEG → 800w WebP, arm64)",
                verdict(None if compute is None else compute <= 1.5),
                reference.get("summary") or f"${_f(compute, 2)}",
            )
        )
    like = results.get("origins", {})
    for peer, mine in AGAINST.items():
        ours = like.get(mine, {}).get("ops")
        theirs = like.get(peer, {}).get("ops")
        if not theirs or not ours:
            continue
        pairs = []
        for op in ORIGIN_OPS:
            a = (ours.get(op.id, {}).get("throughput") or {}).get("images_per_s")
            b = (theirs.get(op.id, {}).get("throughput") or {}).get("images_per_s")
            if a and b:
                pairs.append((op.id, a / b))
        out.append(
            (
                f"{mine} ahead of {peer} on every op (like for like, cold misses, 2 in flight)",
                verdict(all(v > 1 for _, v in pairs) if pairs else None),
                ", ".join(f"{op} {v:.2f}x" for op, v in pairs),
            )
        )
    versus = results["matched_quality"]["default_jpeg_vs_vipsfront"]
    pairs = []
    ok: bool | None = None
    for peer, row in versus.items():
        for fmt in ("avif", "webp"):
            ours = row.get(f"vipsfront_{fmt}_bytes")
            if ours is None:
                continue
            pairs.append(f"{fmt} vs {peer} {ours / row['peer_bytes']:.2f}x")
            ok = (ok is not False) and ours < row["peer_bytes"]
    out.append(
        (
            "AVIF and WebP at matched SSIM smaller than every peer's default output",
            verdict(ok),
            ", ".join(pairs) or "no peer default measured",
        )
    )
    return out


def like_for_like(results: dict[str, Any]) -> list[str]:
    """The origin-against-origin tables (``origins.py``)."""
    like = results.get("origins") or {}
    names = [n for n in like if "ops" in like[n]]
    lines = [
        "",
        "## Origin vs origin, like for like (same S3, same originals, same requests)",
        "",
        f"{results['settings']['workers']} server processes each; JPEG q80, WebP q80, AVIF q50 in every URL; "
        "cover crops at the centre for every origin, vipsfront included (the peers cannot crop elsewhere; the "
        "engine-level tables keep pos=attention). "
        "Misses: an original the origin has not seen, one client; hits: the same URL again; "
        f"throughput: cold misses only, {results['settings']['peer_concurrency']} clients. "
        + ", ".join(f"{peer} is read against {mine}" for peer, mine in AGAINST.items())
        + " (the same job).",
        "",
    ]
    for name, entry in like.items():
        lines.append(
            f"- {name}: "
            + (f"skipped ({entry['skipped']})" if "ops" not in entry else f"{entry['version']}; {entry['note']}")
        )
    if not names:
        return lines
    lines += [
        "",
        "Cold miss p50 / warm hit p50 (ms), throughput of cold misses (img/s), peak RSS of the server tree (MB):",
        "",
    ]
    rows = []
    for op in ORIGIN_OPS:
        row = [op.label]
        for name in names:
            e = like[name]["ops"].get(op.id)
            if not e:
                row.append("–")
                continue
            t = (e.get("throughput") or {}).get("images_per_s")
            row.append(
                f"{_f(e['miss_ms'].get('p50'))} / {_f(e['hit_ms'].get('p50'), 2)} / {_f(t)} / {_f(e['rss_peak_mb'], 0)}"
            )
        rows.append(row)
    lines += _table(["op", *[f"{n}: miss / hit / img/s / RSS" for n in names]], rows)
    lines += deployed_over_engine(results)
    scores = results.get("origins_quality", {})
    lines += ["", "Bytes and SSIM of each origin's output (mean KB, mean SSIM vs the lanczos3 reference):", ""]
    rows = []
    for op in ORIGIN_OPS:
        if not op.scored:
            continue
        per = scores.get(op.id, {})
        rows.append(
            [op.label]
            + [
                "–"
                if f"origin:{n}" not in per
                else f"{per[f'origin:{n}']['bytes_mean'] / 1024:.1f}, {per[f'origin:{n}']['ssim_mean']:.4f}"
                for n in names
            ]
        )
    lines += _table(["op", *names], rows)
    return lines


def deployed_over_engine(results: dict[str, Any]) -> list[str]:
    """The deployed shape's cold miss over the engine alone (``ratios``), on the ops the engine ran as is."""
    r = results.get("ratios", {})
    known = {k: v for k, v in r.get("deployed_miss_p50_over_engine_p50", {}).items() if v is not None}
    if not known:
        return []
    return [
        "",
        f"Miss ÷ engine alone, {DEPLOYED} (its cold miss p50 above over the engine's p50 of the same op, one "
        "image at a time, same libvips threads, measured later in the run, so a change of load moves it; "
        "`benchmarks/hit_miss_overhead.py --as-deployed` pairs them request by request; the centred crop has "
        "no engine row): geomean "
        f"{_f(r['geomean']['deployed_miss_over_engine'], 2)}x; "
        + ", ".join(f"{k} {v:.2f}x" for k, v in known.items())
        + ".",
    ]


def markdown(results: dict[str, Any]) -> str:
    m = results["machine"]
    lines = [
        "# vipsfront bench",
        "",
        f"`{results['command']}` on {m['cpu']}, {m['cores']} cores, {m['ram_gb']} GB RAM, {m['os']}, "
        f"Python {m['python']}, pyvips {m['pyvips']}, libvips {m['libvips']}; corpus `{results['corpus']['name']}`; "
        f"{results['settings']['workers']} origin workers / thumbor processes; {results['seconds']:.0f} s.",
        "",
        "Peers: "
        + "; ".join(
            f"{n}: {v['version'] or '?'}" if not v["skipped"] else f"{n}: skipped ({v['skipped']})"
            for n, v in results["peer_versions"].items()
        )
        + ".",
    ]
    if "origin" not in results:  # --origins-only
        return "\n".join(lines + like_for_like(results)) + "\n"
    lines += ["", "## Goals", ""]
    lines += _table(["goal", "reading", "figures"], [list(g) for g in goals(results)])
    lines += ["", "## Cache miss through the origin vs the engine alone (1 client, p50 ms)", ""]
    rows = []
    r = results["ratios"]
    for op in OPS:
        miss = results["origin"]["miss"][op.id]
        bare = results["peers"].get("bare", {}).get(op.id, {}).get("latency_ms", {})
        engine = results["peers"].get("engine", {}).get(op.id, {}).get("latency_ms", {})
        rows.append(
            [
                op.label,
                f"{_f(miss['latency_ms']['p50'])} / {_f(miss['latency_ms']['p95'])} / {_f(miss['latency_ms']['p99'])}",
                f"{_f(miss['latency_ms']['mean'])} ± {_f(miss['latency_ms']['stdev'])}",
                _f(miss["transform_ms"]["p50"]),
                _f(engine.get("p50")),
                _f(bare.get("p50")),
                _f(r["miss_p50_over_engine_p50"][op.id], 2),
                _f(r["miss_p50_over_bare_p50"][op.id], 2),
                _f(miss["rss"]["peak_mb"], 0),
            ]
        )
    lines += _table(
        [
            "op",
            "miss p50/p95/p99",
            "mean ± sd",
            "transform p50",
            "engine p50",
            "bare p50",
            "÷ engine",
            "÷ bare",
            "server RSS MB",
        ],
        rows,
    )
    lines += ["", "## Cache hit vs a bare S3 GET of the stored variant (p50 ms)", ""]
    rows = []
    for op in OPS:
        hit = results["origin"]["hit"][op.id]
        rows.append(
            [
                op.label,
                _f(hit["query_form_ms"]["p50"], 2),
                _f(hit["path_form_ms"]["p50"], 2),
                _f(hit["bare_s3_get_ms"]["p50"], 2),
                _f(r["hit_p50_over_s3_get_p50"][op.id], 2),
                _f(r["path_hit_p50_over_s3_get_p50"][op.id], 2),
            ]
        )
    lines += _table(["op", "hit (query form)", "hit (canonical path)", "S3 GET", "query ÷ S3", "path ÷ S3"], rows)
    pm = results["origin"]["path_form_miss"]
    lines += ["", f"Canonical path form, cache miss ({pm['op']}): p50 {_f(pm['latency_ms'].get('p50'))} ms.", ""]

    lines += ["## Concurrency sweep (origin as in Lambda: no variant lookup, path form)", ""]
    rows = []
    for op in OPS:
        for level, e in results["sweep"]["ops"].get(op.id, {}).items():
            rows.append(
                [
                    op.label,
                    level,
                    _f(e["images_per_s"]),
                    _f(e["latency_ms"].get("p50")),
                    _f(e["latency_ms"].get("p95")),
                    _f(e["latency_ms"].get("p99")),
                    _f(e["rss"]["peak_mb"], 0),
                    str(e["errors"]),
                ]
            )
    lines += _table(["op", "clients", "img/s", "p50 ms", "p95 ms", "p99 ms", "peak RSS MB", "errors"], rows)

    lines += like_for_like(results)
    names = [n for n in PEER_ORDER if n == "origin" or n in results["peers"]]
    lines += [
        "",
        f"## Side by side: throughput with {results['settings']['peer_concurrency']} in flight "
        "(img/s, p50 ms, peak RSS MB)",
        "",
    ]
    rows = []
    for op in OPS:
        row = [op.label]
        for name in names:
            if name == "origin":
                e = results["sweep"]["ops"].get(op.id, {}).get("2")
                row.append(
                    "–"
                    if not e
                    else f"{_f(e['images_per_s'])}, {_f(e['latency_ms'].get('p50'), 0)}, {_f(e['rss']['peak_mb'], 0)}"
                )
                continue
            e = results["peers"][name].get(op.id, {})
            if "skipped" in e:
                row.append("skipped")
            elif e.get("throughput"):
                t = e["throughput"]
                row.append(f"{_f(t['images_per_s'])}, {_f(t['latency_ms'].get('p50'), 0)}, {_f(e['rss_peak_mb'], 0)}")
            else:
                row.append("–")
        rows.append(row)
    lines += _table(["op", *names], rows)
    lines += ["", "Ratios of throughput (origin over each, then engine over each):", ""]
    rows = []
    for op in OPS:
        ratios = r["throughput_c2"][op.id]["ratios"]
        rows.append(
            [op.label]
            + [_f(ratios.get(f"origin/{n}"), 2) for n in names if n != "origin"]
            + [_f(ratios.get(f"engine/{n}"), 2) for n in names if n not in ("origin", "engine")]
        )
    lines += _table(
        ["op"]
        + [f"origin ÷ {n}" for n in names if n != "origin"]
        + [f"engine ÷ {n}" for n in names if n not in ("origin", "engine")],
        rows,
    )
    lines += ["", "## Bytes and SSIM of each engine's output (mean KB, mean SSIM vs the lanczos3 reference)", ""]
    rows = []
    for op in OPS:
        if not op.scored:
            continue
        scores = results["quality"].get(op.id, {})
        rows.append(
            [op.label]
            + [
                "–" if n not in scores else f"{scores[n]['bytes_mean'] / 1024:.1f}, {scores[n]['ssim_mean']:.4f}"
                for n in names
            ]
        )
    lines += _table(["op", *names], rows)
    mq = results["matched_quality"]
    lines += ["", f"## Bytes at matched quality (photos → {mq['width']}w, mean KB at SSIM {mq['target_ssim']})", ""]
    rows = []
    for name, formats in mq["engines"].items():
        if "skipped" in formats:
            rows.append([name, "skipped", "", ""])
            continue
        cells = []
        for fmt in ("jpeg", "webp", "avif"):
            e = formats.get(fmt, {})
            if "skipped" in e:
                cells.append("skipped")
            else:
                b = e.get("bytes_at_target")
                cells.append("out of range" if b is None else f"{b / 1024:.1f}")
        rows.append([name, *cells])
    lines += _table(["engine", "JPEG", "WebP", "AVIF"], rows)
    lines += ["", "Each peer's default JPEG output against vipsfront's AVIF and WebP at the same SSIM (mean KB):", ""]
    rows = []
    for name, row in mq["default_jpeg_vs_vipsfront"].items():
        rows.append(
            [
                name,
                f"{row['peer_bytes'] / 1024:.1f}",
                f"{row['peer_ssim']:.4f}",
                _f(None if row.get("vipsfront_avif_bytes") is None else row["vipsfront_avif_bytes"] / 1024),
                _f(None if row.get("vipsfront_webp_bytes") is None else row["vipsfront_webp_bytes"] / 1024),
            ]
        )
    lines += _table(["peer", "default JPEG KB", "its SSIM", "vipsfront AVIF KB", "vipsfront WebP KB"], rows)
    c = results["cost"]
    lines += [
        "",
        f"## Estimated cost, USD per million requests (Lambda {c['memory_mb']} MB {c['architecture']}; "
        f"{c['duration']})",
        "",
        f"{c['caveat']}.",
        "",
    ]
    rows = [
        [
            op.label,
            f"{c['ops'][op.id]['miss_usd_per_million']['total']:.2f}",
            f"{c['ops'][op.id]['miss_usd_per_million']['lambda_compute']:.2f}",
            f"{c['ops'][op.id]['hit_usd_per_million']['total']:.2f}",
        ]
        for op in OPS
    ]
    lines += _table(["op", "miss total", "miss Lambda compute", "hit total"], rows)
    cs = results["cold_start"]
    imp = cs["handler_import_s"]
    lines += [
        "",
        "## Cold start",
        "",
        f"Process start to first image (`vipsfront serve --workers {cs['workers']}`, a miss): "
        f"p50 {_f(cs['process_start_to_first_image_s'].get('p50'), 2)} s. "
        + (
            "Lambda handler module import: "
            + (f"p50 {_f(imp.get('p50'), 2)} s." if "p50" in imp else f"skipped ({imp.get('skipped')}).")
        ),
    ]
    return "\n".join(lines) + "\n"


def chart(results: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [n for n in PEER_ORDER if n == "origin" or n in results["peers"]]
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 5.4), dpi=80, gridspec_kw={"width_ratios": [2.2, 1]})
    width = 0.8 / len(names)
    for i, name in enumerate(names):
        values = []
        for op in OPS:
            if name == "origin":
                e = results["sweep"]["ops"].get(op.id, {}).get("2")
                values.append(e["images_per_s"] if e else 0)
            else:
                t = results["peers"][name].get(op.id, {}).get("throughput") or {}
                values.append(t.get("images_per_s", 0))
        left.bar([x + i * width for x in range(len(OPS))], values, width, label=name)
    left.set_xticks([x + 0.4 - width / 2 for x in range(len(OPS))])
    left.set_xticklabels([op.id for op in OPS], rotation=35, ha="right", fontsize=7)
    left.set_ylabel("images/s (2 in flight)")
    left.set_yscale("log")
    left.legend(fontsize=7, ncol=len(names), loc="upper center", bbox_to_anchor=(0.5, -0.42), frameon=False)
    left.set_title("throughput, same files and ops", fontsize=9)
    for op in OPS:
        levels = results["sweep"]["ops"].get(op.id, {})
        if len(levels) > 1:
            xs = [int(k) for k in levels]
            right.plot(xs, [levels[k]["latency_ms"].get("p95", 0) for k in levels], marker="o", label=op.id)
    right.set_xscale("log", base=2)
    right.set_xlabel("clients")
    right.set_ylabel("p95 latency ms (origin)")
    right.set_yscale("log")
    right.legend(fontsize=6, ncol=2, loc="upper center", bbox_to_anchor=(0.5, -0.16), frameon=False)
    right.set_title("origin concurrency sweep", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, bbox_inches="tight")
    plt.close(fig)


def write(results: dict[str, Any], out: Path) -> None:
    (out / "results.json").write_text(json.dumps(results, indent=1, default=str))
    (out / "results.md").write_text(markdown(results))
    if "sweep" in results:  # not with --origins-only
        chart(results, out / "chart.png")
