"""Results of the benchmark: raw series, the rows of the table (ours against a
baseline measured in the same invocation, run by run), the markdown table and
the JSON file with every run."""

import json
import statistics


def summary(values):
    return {
        "median": statistics.median(values),
        "min": min(values),
        "max": max(values),
        "n": len(values),
    }


def fmt_value(v, unit):
    if unit == "s":
        return "%.3f s" % v if v < 10 else "%.1f s" % v
    if unit == "MiB":
        return "%.1f MiB" % v
    if unit == "req/s":
        return "%.0f req/s" % v
    if unit == "requests":
        return "%d" % round(v)
    if unit == "µs":
        return "%.0f µs" % v
    if unit == "x":
        return "%.2f×" % v
    if unit == "bytes":
        return "%.0f B" % v
    return "%.3g %s" % (v, unit)


def fmt_series(values, unit):
    if not values:
        return "—"
    s = summary(values)
    if s["min"] == s["max"]:
        return fmt_value(s["median"], unit)
    lo = fmt_value(s["min"], unit).split(" ")[0]
    hi = fmt_value(s["max"], unit).split(" ")[0]
    return "%s (%s–%s)" % (fmt_value(s["median"], unit), lo, hi)


class Results:
    def __init__(self, meta):
        self.meta = meta
        self.series = {}  # name -> {"unit", "runs": [...], plus extra fields}
        self.rows = []

    def add(self, name, unit, value, **extra):
        s = self.series.setdefault(name, {"unit": unit, "runs": []})
        s["runs"].append(value)
        for k, v in extra.items():
            s.setdefault(k, []).append(v)

    def runs(self, name):
        return self.series.get(name, {}).get("runs", [])

    def row(self, section, figure, ours, base=None, base_label="", kind="base/ours",
            target="", check=None, note=""):
        """ours/base: series names. kind: 'base/ours' (the baseline's figure
        over ours: bigger is better for times) or 'ours/base' (for rates and
        sizes), computed run by run. check: (op, threshold) with op 'ratio>=',
        'ratio<=' or 'ours<=', judged on medians; None for a row without a
        target."""
        o = self.runs(ours)
        b = self.runs(base) if base else []
        ratios = []
        for x, y in zip(o, b):
            num, den = (y, x) if kind == "base/ours" else (x, y)
            ratios.append(num / den if den else float("inf"))
        verdict = None
        if check is not None:
            op, threshold = check
            if op == "ratio>=" and ratios:
                verdict = statistics.median(ratios) >= threshold
            elif op == "ratio<=" and ratios:
                verdict = statistics.median(ratios) <= threshold
            elif op == "ours<=" and o:
                verdict = statistics.median(o) <= threshold
        self.rows.append(
            {
                "section": section,
                "figure": figure,
                "ours": ours,
                "baseline": base,
                "baseline_label": base_label,
                "ratio_kind": kind,
                "ratios": ratios,
                "ratio": summary(ratios) if ratios else None,
                "target": target,
                "check": list(check) if check else None,
                "met": verdict,
                "note": note,
            }
        )

    def table(self):
        lines = [
            "| Figure | Ours | Baseline | Ratio | Target | Met |",
            "|---|---|---|---|---|---|",
        ]
        for r in self.rows:
            ou = self.series[r["ours"]]["unit"]
            ours = fmt_series(self.runs(r["ours"]), ou)
            if r["baseline"]:
                bu = self.series[r["baseline"]]["unit"]
                base = "%s: %s" % (r["baseline_label"], fmt_series(self.runs(r["baseline"]), bu))
            else:
                base = r["baseline_label"] or "—"
            ratio = "—"
            if r["ratios"]:
                label = "ours÷base" if r["ratio_kind"] == "ours/base" else "base÷ours"
                ratio = "%s %s" % (fmt_series(r["ratios"], "x"), label)
            met = {True: "yes", False: "**no**", None: "—"}[r["met"]]
            lines.append(
                "| %s | %s | %s | %s | %s | %s |"
                % (r["figure"], ours, base, ratio, r["target"] or "—", met)
            )
        return "\n".join(lines) + "\n"

    def to_json(self):
        series = {}
        for name, s in self.series.items():
            d = dict(s)
            d.update(summary(s["runs"]))
            series[name] = d
        return {"meta": self.meta, "series": series, "rows": self.rows}

    def write(self, json_path, md_path):
        with open(json_path, "w") as f:
            json.dump(self.to_json(), f, indent=1)
            f.write("\n")
        with open(md_path, "w") as f:
            f.write(self.table())
