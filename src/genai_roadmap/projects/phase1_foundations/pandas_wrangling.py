"""1.1.2 pandas-wrangling — merge, fill and summarise a table with pandas; Titanic by default, or any CSV.

Roadmap: "Write Python scripts using Pandas to perform data manipulation tasks like merging datasets, handling
missing values, and calculating statistics."

What it does, in order, writing each intermediate table to `tables/*.csv` in the run folder:
  1. profile the raw table: column types, missing values per column, numeric summaries;
  2. merge: a lookup table onto a code column (Titanic: port code → port name and country), a table derived
     from the data itself (Titanic: passengers per ticket), a per-group table merged back onto each row
     (group size), and, with `--set merge_csv=... --set merge_on=key`, a second CSV of yours
     (left join; matched / unmatched rows counted);
  3. missing values: rows without a target are dropped (a target cannot be imputed); a column missing in more
     than `drop_threshold` of rows becomes a `has_<col>` indicator and is dropped; other numeric columns get the
     median of their group (then the overall median), other text columns the most frequent value — each fill
     logged in `tables/imputation.csv`;
  4. statistics: per-group summaries (the target's mean per group among them), a pivot of the target over
     group × a second category, correlations.
The summary is written as summary.md and summary.html; `missing_after` counts missing cells left (target 0).
`tables/cleaned.csv` holds no column computed from the target (such as a per-group target mean): a model
trained on that table would see the answer. Target-derived statistics go to the summary and their own tables.
`max_rows` takes a seeded random sample, stratified by the target (never the head of the file).

Result (cpu preset): Titanic 891 × 12 with 866 missing cells → 891 × 16 with 0 missing (Cabin → has_Cabin,
177 ages filled by class median, 2 ports by the mode; survival rate per class in the summary, not the table).
Command:   roadmap run 1.1.2
Any CSV:   roadmap run 1.1.2 --set csv=my.csv --set target=label --set group=region
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from ...config import param
from ...data.tabular import load_titanic, read_user_csv, sample_rows
from ...errors import UserError
from ...runs import RunContext
from ...viz.tabular import Report, missing_table, missingness_plot, rate_by_category_plot

PORTS = pd.DataFrame({"Embarked": ["C", "Q", "S"], "port": ["Cherbourg", "Queenstown", "Southampton"],
                      "port_country": ["France", "Ireland", "England"]})


@dataclass
class Config:
    csv: str = param("", "a CSV file to wrangle instead of Titanic (empty = Titanic from the data layer)")
    target: str = param("", "target column (Titanic: Survived); optional for your CSV")
    group: str = param("", "column to group by (Titanic: Pclass; empty = the text column with fewest values)")
    merge_csv: str = param("", "a second CSV to left-join onto the table")
    merge_on: str = param("", "key column(s) for merge_csv, comma-separated, present in both files")
    drop_threshold: float = param(0.5, "a column missing in more than this fraction of rows is dropped", min=0, max=1)
    max_rows: int = param(0, "use only the first N rows (0 = all)", min=0)


PRESETS = {"smoke": {"max_rows": 200}, "cpu": {}, "full": {}}


def is_categorical(s: pd.Series, max_levels: int = 20) -> bool:
    return not pd.api.types.is_float_dtype(s) and 2 <= s.nunique() <= max_levels


def load(cfg: Config, seed: int) -> tuple[pd.DataFrame, str, str, str, bool]:
    titanic = not cfg.csv
    df = load_titanic() if titanic else read_user_csv(cfg.csv)
    target = cfg.target or ("Survived" if titanic else "")
    group = cfg.group or ("Pclass" if titanic else "")
    for role, col in (("target", target), ("group", group)):
        if col and col not in df.columns:
            raise UserError(f"{role} column {col!r} is not in the table; columns: {', '.join(map(str, df.columns))}")
    if group and group == target:
        raise UserError(f"group and target are the same column ({group!r}): grouping by the target would only "
                        "restate it; choose another group column")
    if len(df) < 2:
        raise UserError(f"{cfg.csv or 'the table'} has {len(df)} data row; wrangling and its statistics need at "
                        "least 2 rows")
    df = sample_rows(df, cfg.max_rows, seed, target)
    if not group:  # the low-cardinality column with fewest levels, so group tables stay readable
        options = [c for c in df.columns if c != target and is_categorical(df[c])]
        group = min(options, key=lambda c: df[c].nunique()) if options else ""
    source = "titanic:titanic_train.csv" if titanic else f"csv:{Path(cfg.csv).name}"
    return df, target, group, source, titanic


def merges(df: pd.DataFrame, cfg: Config, target: str, group: str, titanic: bool) -> tuple[pd.DataFrame, list]:
    """Every join the run makes, each logged as (what, rows matched, rows unmatched)."""
    log = []
    if titanic:
        df = df.merge(PORTS, on="Embarked", how="left", validate="many_to_one", indicator=True)
        log.append(("port lookup on Embarked", int((df["_merge"] == "both").sum()),
                    int((df["_merge"] == "left_only").sum())))
        df = df.drop(columns="_merge")
        tickets = df.groupby("Ticket").size().rename("ticket_group_size").reset_index()
        df = df.merge(tickets, on="Ticket", how="left", validate="many_to_one")
        log.append(("passengers per ticket on Ticket", len(df), 0))
    if group:  # the group's size only: a per-group target mean on each row would leak the target
        stats = df.groupby(group, dropna=False).size().rename("group_size").to_frame()
        df = df.merge(stats.reset_index(), on=group, how="left", validate="many_to_one")
        log.append((f"per-{group} statistics on {group}", len(df), 0))
    if cfg.merge_csv:
        other = read_user_csv(cfg.merge_csv)
        keys = [k.strip() for k in cfg.merge_on.split(",") if k.strip()]
        missing = [k for k in keys if k not in df.columns or k not in other.columns]
        if not keys or missing:
            raise UserError("merge_on must name key column(s) present in both tables; "
                            f"missing: {missing or '(none given)'}")
        try:
            df = df.merge(other, on=keys, how="left", validate="many_to_one", indicator=True,
                          suffixes=("", "_merged"))
        except pd.errors.MergeError:
            raise UserError(f"{cfg.merge_csv}: key {keys} is not unique, so the join would duplicate rows") from None
        log.append((f"{Path(cfg.merge_csv).name} on {', '.join(keys)}", int((df["_merge"] == "both").sum()),
                    int((df["_merge"] == "left_only").sum())))
        df = df.drop(columns="_merge")
    return df, log


def fill_missing(df: pd.DataFrame, target: str, group: str, drop_threshold: float
                 ) -> tuple[pd.DataFrame, pd.DataFrame, int]:
    """The cleaned table, the imputation log (one row per column touched) and the rows dropped."""
    log = []
    rows_dropped = 0
    if target:
        rows_dropped = int(df[target].isna().sum())
        df = df.dropna(subset=[target])
    df = df.copy()
    gaps = [c for c in df.columns[df.isna().any()] if c != group]
    # The group column is filled last, so group medians come from the groups as recorded, not as guessed.
    for col in gaps + ([group] if group and df[group].isna().any() else []):
        n_missing = int(df[col].isna().sum())
        if n_missing / len(df) > drop_threshold:
            df[f"has_{col}"] = df[col].notna().astype(int)
            df = df.drop(columns=col)
            log.append((col, n_missing, f"dropped (> {drop_threshold:.0%} missing); kept has_{col} indicator", ""))
        elif pd.api.types.is_numeric_dtype(df[col]):
            overall = float(df[col].median())
            if group and group != col:
                medians = df.groupby(group, dropna=False)[col].median()  # from the observed values only
                df[col] = df[col].fillna(df[group].map(medians)).fillna(overall)
                log.append((col, n_missing, f"median within {group} (overall median if a group has none)",
                            str(medians.round(3).to_dict())))
            else:
                df[col] = df[col].fillna(overall)
                log.append((col, n_missing, "overall median", str(round(overall, 3))))
        else:
            mode = df[col].mode(dropna=True)
            fill = mode.iloc[0] if len(mode) else "Unknown"
            df[col] = df[col].fillna(fill)
            log.append((col, n_missing, "most frequent value", str(fill)))
    return df, pd.DataFrame(log, columns=["column", "n_missing", "strategy", "fill values"]), rows_dropped


def is_id_like(s: pd.Series) -> bool:
    """An integer column with a different value in every row (PassengerId): a label, not a quantity."""
    return pd.api.types.is_integer_dtype(s) and s.nunique() == len(s)


def statistics(df: pd.DataFrame, target: str, group: str) -> dict[str, pd.DataFrame]:
    numeric = [c for c in df.select_dtypes("number").columns if c != group and not is_id_like(df[c])]
    tables = {"numeric_summary": df[numeric].describe().T.rename_axis("column")} if numeric else {}
    if group:
        grouped = df.groupby(group)[[c for c in numeric if c != "group_size"]]
        count = df.groupby(group).size().rename("(rows)").to_frame().T
        # Transposed (one row per column, one column per group) so wide tables stay readable.
        tables["group_means"] = pd.concat([count, grouped.mean().T]).rename_axis(f"column \\ {group}")
        tables["group_medians"] = grouped.median().T.rename_axis(f"column \\ {group}")
        others = [c for c in df.columns if c not in (group, target) and is_categorical(df[c], 8)
                  and not pd.api.types.is_numeric_dtype(df[c])]
        if target and others and pd.api.types.is_numeric_dtype(df[target]):
            tables[f"pivot_mean_{target}_by_{group}_x_{others[0]}"] = df.pivot_table(
                index=group, columns=others[0], values=target, aggfunc="mean")
    if target and pd.api.types.is_numeric_dtype(df[target]) and len(numeric) > 1:
        features = [c for c in numeric if c != target]
        corr = df[features].corrwith(df[target]).sort_values(key=abs, ascending=False)
        tables["correlation_with_target"] = corr.to_frame("pearson_r").rename_axis("column")
    return tables


def run(cfg: Config, ctx: RunContext) -> dict:
    start = time.perf_counter()
    raw, target, group, source, titanic = load(cfg, ctx.seed)
    ctx.say(f"{source}: {raw.shape[0]} rows × {raw.shape[1]} columns, {int(raw.isna().sum().sum())} missing cells; "
            f"target {target or '(none)'}, group {group or '(none)'}")
    tables_dir = ctx.dir / "tables"
    tables_dir.mkdir(exist_ok=True)
    missing_before = missing_table(raw).rename_axis("column")
    dtypes = pd.DataFrame({"dtype": raw.dtypes.astype(str), "unique": raw.nunique(),
                           "missing": raw.isna().sum()}).rename_axis("column")
    missingness_plot(ctx.plots / "missingness.png", raw, title="missing values (raw)")

    merged, merge_log = merges(raw, cfg, target, group, titanic)
    merge_table = pd.DataFrame(merge_log, columns=["join", "rows matched", "rows unmatched"])
    cleaned, imputation, rows_dropped = fill_missing(merged, target, group, cfg.drop_threshold)
    missing_after = int(cleaned.isna().sum().sum())
    stats = statistics(cleaned, target, group)
    if group and target and pd.api.types.is_numeric_dtype(cleaned[target]):
        extra = [c for c in ("Sex", "port") if c in cleaned.columns]
        rate_by_category_plot(ctx.plots / "target_by_group.png", cleaned, [group, *extra], target)

    outputs = {"dtypes": dtypes, "missing_before": missing_before, "merges": merge_table, "imputation": imputation,
               **stats}
    for name, table in outputs.items():
        table.to_csv(tables_dir / f"{name}.csv")
    cleaned.to_csv(tables_dir / "cleaned.csv", index=False)
    for _, row in imputation.iterrows():
        ctx.say(f"  {row['column']}: {row['n_missing']} missing → {row['strategy']}")

    report = (Report(f"Data wrangling summary — {source}")
              .bullets([f"raw: {raw.shape[0]} rows × {raw.shape[1]} columns, {int(raw.isna().sum().sum())} missing",
                        f"cleaned: {cleaned.shape[0]} rows × {cleaned.shape[1]} columns, {missing_after} missing",
                        f"rows dropped for a missing target: {rows_dropped}",
                        f"target: {target or '(none)'}; group: {group or '(none)'}"])
              .heading("Column types").table(dtypes)
              .heading("Missing values before cleaning").table(missing_before)
              .image(ctx.plots / "missingness.png", "missing values in the raw table")
              .heading("Merges").table(merge_table, index=False)
              .heading("How missing values were handled").table(imputation, index=False))
    for name, table in stats.items():
        title = name.replace("_", " ")
        report.heading(title[0].upper() + title[1:]).table(table, ".3f")
    if (ctx.plots / "target_by_group.png").exists():
        report.image(ctx.plots / "target_by_group.png", f"{target} rate by group")
    report.write(ctx.dir, stem="summary")
    return {
        "missing_after": missing_after, "missing_before": int(raw.isna().sum().sum()),
        "rows_in": int(raw.shape[0]), "cols_in": int(raw.shape[1]),
        "rows_out": int(cleaned.shape[0]), "cols_out": int(cleaned.shape[1]), "rows_dropped": rows_dropped,
        "cells_imputed": int(imputation.loc[~imputation["strategy"].str.startswith("dropped"), "n_missing"].sum()),
        "columns_dropped": [c for c, s in zip(imputation["column"], imputation["strategy"], strict=True)
                            if s.startswith("dropped")],
        "joins": len(merge_log), "target": target, "group": group, "n_groups": int(cleaned[group].nunique())
        if group else 0, "tables": sorted(p.name for p in tables_dir.glob("*.csv")),
        "data_source": source, "compute_time_s": round(time.perf_counter() - start, 3),
    }


def summarize(m: dict) -> str:
    """One line for RESULTS.md beside the headline number."""
    return (f"{m['missing_before']} missing cells -> {m['missing_after']}; {m['rows_out']} x "
            f"{m['cols_out']} cleaned table "
            f"(no target-derived column), {m['joins']} joins, stats per {m['group']}")
