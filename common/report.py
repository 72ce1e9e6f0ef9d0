"""What every report shares: Markdown tables, the sample-data banner and the intended-use statement."""

import numpy as np

# Every report, saved model and prediction says what the suite's models are for.
INTENDED_USE = "Teaching only: not a medical device, not for diagnosis."


# How a report writes a float that its table gives no format of its own.
FLOAT_FORMAT = ".4f"


def markdown_table(rows, columns, formats=None):
    """A Markdown table of ``rows`` (dicts) with ``columns`` as {key: header}; ``formats`` maps key -> spec. A float
    without a spec is written with 4 decimals (FLOAT_FORMAT), never in full."""
    formats = formats or {}
    keys = list(columns)
    lines = ["| " + " | ".join(columns[k] for k in keys) + " |", "|" + "---|" * len(keys)]
    for row in rows:
        cells = []
        for key in keys:
            value = row.get(key, "")
            if value is None:
                cells.append("n/a")
            elif key in formats and isinstance(value, int | float | np.number):
                cells.append(format(value, formats[key]))
            elif isinstance(value, float | np.floating):
                cells.append(format(value, FLOAT_FORMAT))
            else:
                cells.append(str(value))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def sample_data_banner(manifest):
    """The warning that opens every report made from sample data (empty for real data)."""
    if not manifest:
        return ""
    return (f"> **SAMPLE DATA, NOT RESULTS.** This run used {manifest['title']}. {manifest['description']}\n\n")


def figure_list(figures):
    """The figures of a report, {caption: path relative to the run folder}, as Markdown: caption, then image."""
    return "\n".join(f"**{caption}**\n\n![{caption}]({path})\n" for caption, path in figures.items())


def precision_note(metrics):
    """The paragraph every report ends with: which precision each model trained in and why, from
    ``metrics["precision"]`` (``common.run.RunFolder.precision_record``); empty for a run that has none."""
    record = metrics.get("precision") or {}
    if not record:
        return ""
    groups = {}
    for name, model in record.get("models", {}).items():
        groups.setdefault((model["precision"], model["reason"]), []).append(f"`{name}`")
    parts = []
    for (precision, reason), names in groups.items():
        compute = "float32" if precision == "float32" else f"{precision} compute with float32 weights and outputs"
        parts.append(f"{compute} for {', '.join(names)} ({reason})")
    trained = "; ".join(parts) if parts else f"{record['precision']} ({record['reason']})"
    return (f"Precision (`--precision {record['requested']}`, {record['machine']}): {trained}. Every score here "
            "comes from the trained models computing in float32.")
