"""Pictures and reports for table-shaped data: missingness, rates by category, a drawn decision tree, and a
small report writer that renders the same blocks to Markdown and HTML (no extra dependency such as tabulate).
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from .. import io
from .plots import new_figure, save

# ---- tables -----------------------------------------------------------------------------------------------


def missing_table(df: pd.DataFrame) -> pd.DataFrame:
    """Missing values per column (count and fraction), worst first; columns with none are left out."""
    count = df.isna().sum()
    table = pd.DataFrame({"missing": count, "fraction": (count / max(len(df), 1)).round(4)})
    return table[table["missing"] > 0].sort_values("missing", ascending=False)


def _cell(value, floatfmt: str) -> str:
    if isinstance(value, (float, np.floating)):
        return "" if np.isnan(value) else format(value, floatfmt)
    return str(value)


def markdown_table(df: pd.DataFrame, floatfmt: str = ".4g", index: bool = True) -> str:
    """A GitHub-flavoured Markdown table of a DataFrame."""
    frame = df.reset_index() if index else df
    header = [str(c).replace("|", "\\|") for c in frame.columns]
    rows = [[_cell(v, floatfmt).replace("|", "\\|") for v in row] for row in frame.itertuples(index=False)]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


# ---- a report as Markdown + HTML ------------------------------------------------------------------------


@dataclass
class Report:
    """Blocks (headings, paragraphs, tables, images) written as report.md and report.html in a run folder.

    Image paths are stored relative to the report, so the folder can be moved or zipped as a whole.
    """

    title: str
    blocks: list[tuple[str, object]] = field(default_factory=list)

    def heading(self, text: str) -> Report:
        self.blocks.append(("h2", text))
        return self

    def text(self, text: str) -> Report:
        self.blocks.append(("p", text))
        return self

    def bullets(self, items: list[str]) -> Report:
        self.blocks.append(("ul", list(items)))
        return self

    def table(self, df: pd.DataFrame, floatfmt: str = ".4g", index: bool = True) -> Report:
        self.blocks.append(("table", (df, floatfmt, index)))
        return self

    def image(self, path: Path, caption: str = "") -> Report:
        self.blocks.append(("img", (Path(path), caption)))
        return self

    def write(self, folder: Path, stem: str = "report") -> tuple[Path, Path]:
        md_path, html_path = Path(folder) / f"{stem}.md", Path(folder) / f"{stem}.html"
        io.write_text(md_path, self.markdown(Path(folder)))
        io.write_text(html_path, self.html(Path(folder)))
        return md_path, html_path

    def markdown(self, folder: Path) -> str:
        out = [f"# {self.title}"]
        for kind, item in self.blocks:
            if kind == "h2":
                out.append(f"## {item}")
            elif kind == "p":
                out.append(str(item))
            elif kind == "ul":
                out.append("\n".join(f"- {x}" for x in item))
            elif kind == "table":
                df, fmt, index = item
                out.append(markdown_table(df, fmt, index))
            else:
                path, caption = item
                out.append(f"![{caption}]({_rel(path, folder)})")
        return "\n\n".join(out) + "\n"

    def html(self, folder: Path) -> str:
        esc = html.escape
        out = [f"<h1>{esc(self.title)}</h1>"]
        for kind, item in self.blocks:
            if kind == "h2":
                out.append(f"<h2>{esc(str(item))}</h2>")
            elif kind == "p":
                out.append(f"<p>{esc(str(item))}</p>")
            elif kind == "ul":
                out.append("<ul>" + "".join(f"<li>{esc(str(x))}</li>" for x in item) + "</ul>")
            elif kind == "table":
                df, fmt, index = item
                formatted = df.map(lambda v, f=fmt: _cell(v, f))
                out.append(formatted.to_html(index=index, border=0, classes="table"))
            else:
                path, caption = item
                out.append(f'<figure><img src="{esc(_rel(path, folder))}" style="max-width:640px">'
                           f"<figcaption>{esc(caption)}</figcaption></figure>")
        style = ("body{font-family:sans-serif;max-width:900px;margin:2em auto}table{border-collapse:collapse}"
                 "td,th{padding:2px 8px;border-bottom:1px solid #ddd;text-align:right}")
        return (f"<!doctype html><html><head><meta charset='utf-8'><title>{esc(self.title)}</title>"
                f"<style>{style}</style></head><body>\n" + "\n".join(out) + "\n</body></html>\n")


def _rel(path: Path, folder: Path) -> str:
    try:
        return path.resolve().relative_to(folder.resolve()).as_posix()
    except ValueError:
        return path.as_posix()


# ---- plots ------------------------------------------------------------------------------------------------


def missingness_plot(path: Path, df: pd.DataFrame, title: str = "missing values per column") -> Path:
    """Left: fraction missing per column. Right: which rows miss what (rows in file order, black = missing)."""
    fig, (ax1, ax2) = new_figure(ncols=2, size=(10, 3.8))
    frac = df.isna().mean().sort_values(ascending=False)
    ax1.barh(frac.index[::-1].astype(str), frac.values[::-1], color="tab:red")
    for i, (col, f) in enumerate(frac[::-1].items()):
        if f > 0:  # a count beside each bar: 2 missing of 891 is invisible as a bar
            ax1.text(f + 0.01, i, f"{int(df[col].isna().sum())}", va="center", fontsize=7)
    ax1.set(xlabel="fraction missing", xlim=(0, 1), title=title)
    ax2.imshow(df.isna().to_numpy(), aspect="auto", cmap="Greys", interpolation="nearest", vmin=0, vmax=1)
    ax2.set_xticks(range(df.shape[1]), [str(c) for c in df.columns], rotation=60, ha="right", fontsize=7)
    ax2.set(ylabel="row", title="missingness pattern")
    return save(fig, path)


def rate_by_category_plot(path: Path, df: pd.DataFrame, columns: list[str], target: str,
                          ylabel: str = "") -> Path:
    """One bar panel per column: mean of a 0/1 target per category, with counts on the bars."""
    fig, axes = new_figure(ncols=len(columns), size=(3.6 * len(columns), 3.4), squeeze=False)
    for ax, col in zip(axes[0], columns, strict=True):
        grouped = df.groupby(col, observed=True)[target].agg(["mean", "size"])
        bars = ax.bar(grouped.index.astype(str), grouped["mean"], color="tab:blue")
        for bar, n in zip(bars, grouped["size"], strict=True):
            ax.text(bar.get_x() + bar.get_width() / 2, bar.get_height(), f"n={n}", ha="center", va="bottom",
                    fontsize=7)
        ax.set(title=f"{ylabel or target} by {col}", ylim=(0, 1.05))
        ax.tick_params(axis="x", labelrotation=30, labelsize=8)
    return save(fig, path)


def histogram_by_target_plot(path: Path, df: pd.DataFrame, columns: list[str], target: str,
                             bins: int = 30) -> Path:
    """Overlaid histograms of numeric columns, one colour per target value (missing values left out)."""
    fig, axes = new_figure(ncols=len(columns), size=(3.8 * len(columns), 3.4), squeeze=False)
    for ax, col in zip(axes[0], columns, strict=True):
        values = df[col].dropna()
        edges = np.histogram_bin_edges(values, bins=bins)
        for label, group in df.groupby(target, observed=True):
            ax.hist(group[col].dropna(), bins=edges, alpha=0.55, label=f"{target}={label}")
        ax.set(title=col, xlabel=col, ylabel="count")
        ax.legend(fontsize=7)
    return save(fig, path)


def correlation_heatmap(path: Path, df: pd.DataFrame, columns: list[str], title: str = "correlations") -> Path:
    """Pearson correlations between numeric columns (pairwise complete rows), values written in the cells."""
    corr = df[columns].corr()
    size = 0.55 * len(columns) + 2.5
    fig, ax = new_figure(size=(size + 1, size))
    im = ax.imshow(corr.to_numpy(), cmap="RdBu_r", vmin=-1, vmax=1)
    ax.set_xticks(range(len(columns)), [str(c) for c in columns], rotation=60, ha="right", fontsize=8)
    ax.set_yticks(range(len(columns)), [str(c) for c in columns], fontsize=8)
    for i in range(len(columns)):
        for j in range(len(columns)):
            value = corr.iat[i, j]
            if not np.isnan(value):
                ax.text(j, i, f"{value:.2f}", ha="center", va="center", fontsize=7,
                        color="white" if abs(value) > 0.6 else "black")
    ax.set_title(title)
    fig.colorbar(im, ax=ax, fraction=0.046)
    return save(fig, path)


# ---- decision trees -------------------------------------------------------------------------------------


def draw_tree(path: Path, tree, feature_names: list[str], class_names: list[str], title: str = "") -> Path:
    """Draw a fitted tree stored as flat arrays (children_left_/right_, feature_, threshold_, value_,
    impurity_, n_node_samples_): each box shows its rule, impurity, sample count and class counts.

    Leaves are placed left to right in order; a parent sits above the middle of its children.
    """
    left, right = tree.children_left_, tree.children_right_
    x, y = np.zeros(len(left)), np.zeros(len(left))
    next_leaf = [0.0]

    def place(node: int, depth: int) -> float:
        y[node] = -depth
        if left[node] < 0:
            x[node] = next_leaf[0]
            next_leaf[0] += 1
        else:
            x[node] = (place(int(left[node]), depth + 1) + place(int(right[node]), depth + 1)) / 2
        return x[node]

    place(0, 0)
    n_leaves, depth = next_leaf[0], -y.min()
    fig, ax = new_figure(size=(max(6.0, 2.1 * n_leaves), max(3.0, 1.7 * (depth + 1))))
    palette = [plt.get_cmap("tab20").colors[2 * i + 1] for i in range(10)]  # pale twins of C0..C9
    for node in range(len(left)):
        for child in (left[node], right[node]):
            if child >= 0:
                ax.plot([x[node], x[child]], [y[node], y[child]], color="grey", lw=1, zorder=1)
        counts = tree.value_[node]
        winner = int(np.argmax(counts))
        rule = (f"{feature_names[tree.feature_[node]]} <= {tree.threshold_[node]:.3g}\n" if left[node] >= 0
                else f"class = {class_names[winner]}\n")
        label = (f"{rule}impurity = {tree.impurity_[node]:.3f}\nsamples = {tree.n_node_samples_[node]}\n"
                 f"value = {np.asarray(counts, dtype=int).tolist()}")
        ax.text(x[node], y[node], label, ha="center", va="center", fontsize=7, zorder=2,
                bbox={"boxstyle": "round", "fc": palette[winner % len(palette)], "ec": "grey"})
    ax.set(xlim=(-0.7, n_leaves - 0.3), ylim=(-depth - 0.6, 0.6), title=title)
    ax.axis("off")
    return save(fig, path)
