"""Budget options: changes from the base scenario, each with any one-off cost, compared with common random numbers.

An option (``conf/budget/NAME.yaml``) is ``{description, one_off_gbp, settings: {group.key: value},
changes: [{month, setting, value}]}``. Each becomes a scenario of a comparison whose base is the
scenario as configured (``runs/comparison.py`` runs them and pairs them: replication k of every
option sees the same referrals and life events). The option's yearly cost is ``cost_total_gbp``
plus its one-off cost spread evenly over the reported years (one-off / ``run.years``), so that a
one-off is charged once over the span the outcomes are measured on.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from simservice.config import (
    CHANGEABLE,
    Config,
    ConfigError,
    CopingConfig,
    DemandConfig,
    FinanceConfig,
    ManagersConfig,
    PolicyConfig,
    RiskConfig,
    ServiceConfig,
    WorkforceConfig,
)
from simservice.reporting.costs import COST_UNITS
from simservice.reporting.kpis import KPI_UNITS
from simservice.reporting.outputs import format_number, publish, save_figure, staged
from simservice.runs.comparison import Comparison, paired_differences

#: The name of the scenario as configured, against which every option is differenced.
BASE = "base"
#: The groups an option's settings may change: the model's, and the rates of ``finance`` (not ``run``: pairing).
OPTION_GROUPS = (*CHANGEABLE, "finance")
_CLASSES = {"service": ServiceConfig, "demand": DemandConfig, "policy": PolicyConfig, "workforce": WorkforceConfig,
            "managers": ManagersConfig, "coping": CopingConfig, "risk": RiskConfig,
            "finance": FinanceConfig}  # fmt: skip
assert set(_CLASSES) == set(OPTION_GROUPS)
#: What an option may hold.
OPTION_KEYS = ("description", "one_off_gbp", "settings", "changes")
#: The largest one-off cost an option may carry, pounds.
MOST_ONE_OFF = 1e9
#: The cost lines an option most often moves, shown beside the total.
BUDGET_LINES = ("employed", "agency", "surge", "recruitment", "retention")
#: The option's yearly cost, one-offs spread over the reported years, beside the outcomes that matter.
YEARLY_COST = "yearly_cost_gbp"
MEASURES = {
    YEARLY_COST: "£ a year",
    **{f"cost_{line}_gbp": COST_UNITS[f"cost_{line}_gbp"] for line in ("total", *BUDGET_LINES)},
    **{
        kpi: KPI_UNITS[kpi]
        for kpi in (
            "assessed_within_45_days_of_referral_pct",
            "unallocated_mean",
            "caseload_mean",
            "caseload_dfe",
            "turnover_pct",
            "agency_pct",
            "missed_risks_per_1000",
            "serious_incidents",
            "downstream_cost_missed_risks_gbp",
        )
    },
}
#: Plain names for the workbook's column headers.
LABELS = {
    YEARLY_COST: "yearly cost with one-offs spread",
    "cost_total_gbp": "running cost (cost_total_gbp)",
    **{f"cost_{line}_gbp": f"cost: {line}" for line in BUDGET_LINES},
    "assessed_within_45_days_of_referral_pct": "assessed within 45 days of referral",
    "unallocated_mean": "unallocated cases, mean",
    "caseload_mean": "caseload per worker, mean",
    "caseload_dfe": "caseload per case-holding FTE (DfE)",
    "turnover_pct": "turnover",
    "agency_pct": "agency workers",
    "missed_risks_per_1000": "missed risks per 1,000 assessments",
    "serious_incidents": "serious incidents a year (illustrative)",
    "downstream_cost_missed_risks_gbp": "later cost of missed risks (illustrative)",
}
#: The files a budget comparison adds to the run's folder; budget.csv lands last.
FILES = ("budget.xlsx", "budget.png", "budget.csv")


@dataclasses.dataclass(frozen=True)
class BudgetOption:
    """One option: what it changes from the base, and what it costs once."""

    name: str
    description: str = ""
    one_off_gbp: float = 0.0
    settings: dict[str, Any] = dataclasses.field(default_factory=dict)
    changes: list[dict[str, Any]] = dataclasses.field(default_factory=list)

    def differences(self, base_changes: list[dict[str, Any]]) -> dict[str, Any]:
        """The option as a scenario's differences: its settings nested by group, its changes after the base's."""
        tree: dict[str, Any] = {}
        for key, value in self.settings.items():
            group, _, setting = key.partition(".")
            tree.setdefault(group, {})[setting] = value
        if self.changes:
            tree["changes"] = [*base_changes, *self.changes]
        return tree

    def setting_rows(self) -> list[tuple[str, Any]]:
        """What it changes, a row each: settings as ``group.key``, dated changes with their month."""
        rows = [(key, value) for key, value in self.settings.items()]
        rows += [(f"{c['setting']} from month {c['month']}", c["value"]) for c in self.changes]
        return rows or [("(no change)", "")]


def read_options(budget: Mapping[str, Any]) -> list[BudgetOption]:
    """The options as composed (``budget=...``), each checked: one ``ConfigError`` naming the first problem."""
    options = []
    for name, body in budget.items():
        name, where = str(name), f"budget.{name}"
        if name == BASE:
            raise ConfigError(where, name, f"'{BASE}' is the scenario as configured; give the option another name")
        body = dict(body or {})
        unknown = sorted(set(body) - set(OPTION_KEYS))
        if unknown:
            raise ConfigError(
                f"{where}.{unknown[0]}", body[unknown[0]], f"an option holds only {', '.join(OPTION_KEYS)}"
            )
        one_off = body.get("one_off_gbp") or 0
        if isinstance(one_off, bool) or not isinstance(one_off, int | float) or not 0 <= one_off <= MOST_ONE_OFF:
            raise ConfigError(
                f"{where}.one_off_gbp", one_off, f"must be a number of pounds from 0 to {MOST_ONE_OFF:,.0f}"
            )
        settings = dict(body.get("settings") or {})
        for key in settings:
            group, _, setting = str(key).partition(".")
            fields = _group_fields(group)
            if setting not in fields:
                raise ConfigError(
                    f"{where}.settings",
                    str(key),
                    f"must be group.key of {', '.join(OPTION_GROUPS)}, such as workforce.agency_max_share",
                )
        changes = [dict(change) for change in body.get("changes") or []]
        options.append(BudgetOption(name, str(body.get("description") or ""), float(one_off), settings, changes))
    return options


def _group_fields(group: str) -> set[str]:
    """The settings of one of the option groups (none for any other name)."""
    config_class = _CLASSES.get(group)
    return {f.name for f in dataclasses.fields(config_class)} if config_class else set()


def budget_table(comparison: Comparison, options: list[BudgetOption]) -> pd.DataFrame:
    """budget.csv: per option (the base first) and measure, mean and 95 % CI, and the paired difference from the base.

    The option's yearly cost is ``cost_total_gbp`` plus its one-off cost / ``run.years``, replication by replication.
    """
    one_off = {BASE: 0.0, **{option.name: option.one_off_gbp for option in options}}
    base = next(iter(comparison.results.values()))
    years = base.config.run.years
    kpis = {
        name: result.kpis.assign(**{YEARLY_COST: result.kpis["cost_total_gbp"] + one_off[name] / years})
        for name, result in comparison.results.items()
    }
    base_kpis = kpis[comparison.base]
    tables = []
    for name, table in kpis.items():
        paired = paired_differences(base_kpis, table, MEASURES)  # the same pairing as every comparison
        spread = [_interval(table[measure]) for measure in MEASURES]
        tables.append(
            pd.DataFrame(
                {
                    "option": name,
                    "measure": paired["kpi"],
                    "mean": paired["scenario_mean"],
                    "ci_low": [low for low, _ in spread],
                    "ci_high": [high for _, high in spread],
                    "difference": paired["difference"],
                    "diff_ci_low": paired["ci_low"],
                    "diff_ci_high": paired["ci_high"],
                    "unit": paired["unit"],
                }
            )
        )
    return pd.concat(tables, ignore_index=True)


def _interval(values: pd.Series) -> tuple[float, float]:
    from simservice.reporting.kpis import mean_ci

    _, low, high = mean_ci(values.to_numpy())
    return low, high


def _header(measure: str, what: str = "") -> str:
    unit = MEASURES[measure]
    return f"{LABELS[measure]}{what} ({unit})"


def workbook_tables(
    table: pd.DataFrame, options: list[BudgetOption], config: Config, command: str = ""
) -> dict[str, pd.DataFrame]:
    """The workbook's sheets: a summary row per option, the differences, each option's settings, and notes."""
    described = {BASE: "The scenario as configured", **{o.name: o.description for o in options}}
    one_off = {BASE: 0.0, **{o.name: o.one_off_gbp for o in options}}
    summary_rows = []
    for name, rows in table.groupby("option", sort=False):
        rows = rows.set_index("measure")
        row: dict[str, Any] = {"option": name, "description": described[name], "one-off cost (£)": one_off[name]}
        for measure in MEASURES:
            row[_header(measure)] = rows.loc[measure, "mean"]
            if measure == YEARLY_COST:
                row[_header(measure, ", difference from base")] = rows.loc[measure, "difference"]
                row["difference, 95 % CI low (£ a year)"] = rows.loc[measure, "diff_ci_low"]
                row["difference, 95 % CI high (£ a year)"] = rows.loc[measure, "diff_ci_high"]
        summary_rows.append(row)
    differences = table[table["option"] != BASE].rename(
        columns={
            "mean": "option mean",
            "ci_low": "option 95 % CI low",
            "ci_high": "option 95 % CI high",
            "difference": "difference from base",
            "diff_ci_low": "difference 95 % CI low",
            "diff_ci_high": "difference 95 % CI high",
        }
    )
    differences.insert(2, "measure name", differences["measure"].map(LABELS))
    settings = pd.DataFrame(
        [
            {
                "option": o.name,
                "description": o.description,
                "one-off cost (£)": o.one_off_gbp,
                "setting": setting,
                "value": value,
            }  # fmt: skip
            for o in options
            for setting, value in o.setting_rows()
        ]
    )
    run, finance = config.run, config.finance
    notes = [
            ("service", config.service.name),
            ("price year", f"{finance.price_year}: pounds, nominal, as published; not inflated or deflated"),
            ("command", command),
            ("replications", f"{run.replications}, paired by common random numbers (seed {run.seed})"),
            ("reported years", f"{run.years:g} after a warm-up of {run.warmup_years:g}"),
            (
                "yearly cost",
                f"cost_total_gbp plus the one-off cost spread evenly over the {run.years:g} reported years",
            ),
            ("intervals", "95 % t intervals across replications; differences are paired replication by replication"),
            (
                "sources",
                "README 'What it costs' and conf/finance/default.yaml: Community Care FOI survey of pay "
                "(2018), PSSRU Unit Costs (on-costs, 2021-22), CYP Now (managed-team and interim rates "
                "2021-22; welcome and retention payments c. 2023), Sunderland Echo (agency premium 2017-18)",
            ),
            (
                "assumptions",
                "recruitment cost per hire, overheads share, agency day rate, and the effects of "
                "retention and welcome payments on leaving and recruiting are assumptions (see each "
                "option's description)",
            ),
    ]  # fmt: skip
    notes += [(f"finance.{key}", str(value)) for key, value in dataclasses.asdict(finance).items()]
    return {
        "summary": pd.DataFrame(summary_rows),
        "differences": differences,
        "options": settings,
        "notes": pd.DataFrame(notes, columns=["note", "text"]),
    }


def write_budget(comparison: Comparison, options: list[BudgetOption], out_dir: Path, command: str = "") -> pd.DataFrame:
    """budget.xlsx, budget.png and budget.csv (last: its presence means all three are whole) into ``out_dir``."""
    from simservice.reporting import figures  # matplotlib is loaded only when a comparison draws

    out_dir = Path(out_dir)
    table = budget_table(comparison, options)
    config = comparison.results[comparison.base].config
    with staged(out_dir) as staging:
        with pd.ExcelWriter(staging / "budget.xlsx", engine="openpyxl") as writer:
            for sheet, frame in workbook_tables(table, options, config, command).items():
                frame.to_excel(writer, sheet_name=sheet, index=False)
                columns = writer.sheets[sheet].column_dimensions
                for i, column in enumerate(frame.columns):
                    width = max([len(str(column)), *(len(str(v)) for v in frame[column].head(50))])
                    columns[_letter(i)].width = min(max(10, width + 2), 60)
                writer.sheets[sheet].freeze_panes = "B2"
        title = f"{config.service.name}: budget options against the base ({config.run.replications} replications)"
        fig = figures.budget_plane(table, title, YEARLY_COST, "assessed_within_45_days_of_referral_pct")
        save_figure(fig, staging / "budget.png")
        table.to_csv(staging / "budget.csv", index=False)
        publish(staging, out_dir, list(FILES))
    return table


def _letter(i: int) -> str:
    from openpyxl.utils import get_column_letter

    return get_column_letter(i + 1)


def format_budget(table: pd.DataFrame) -> str:
    """The compact table the terminal shows: per option, yearly cost and the outcomes, differences with CIs."""
    shown = {
        YEARLY_COST: ("cost £k/yr", 1e3),
        "assessed_within_45_days_of_referral_pct": ("45d %", 1),
        "unallocated_mean": ("unalloc", 1),
        "caseload_mean": ("caseload", 1),
        "turnover_pct": ("turnover %", 1),
        "agency_pct": ("agency %", 1),
        "missed_risks_per_1000": ("missed/1,000", 1),
    }
    width = max(len(str(o)) for o in table["option"])
    head = f"{'option':<{width}}" + "".join(f"  {label:>26}" for label, _ in shown.values())
    lines = ["Budget options: mean; difference from base [95 % paired CI]", head]
    for option, rows in table.groupby("option", sort=False):
        rows = rows.set_index("measure")
        cells = []
        for measure, (_, scale) in shown.items():
            r = rows.loc[measure]
            if option == BASE:
                cells.append(f"{format_number(r['mean'] / scale):>26}")
            else:
                diff = format_number(r["difference"] / scale, signed=True)
                low, high = format_number(r["diff_ci_low"] / scale), format_number(r["diff_ci_high"] / scale)
                cells.append(f"{format_number(r['mean'] / scale) + ' ' + diff + ' [' + low + ', ' + high + ']':>26}")
        lines.append(f"{option:<{width}}" + "".join(f"  {c}" for c in cells))
    return "\n".join(lines)
