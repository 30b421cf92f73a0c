"""report.html, parsed: every section with its figure and table, images inline, no network."""

from __future__ import annotations

import base64
import re
from html.parser import HTMLParser

import pytest
from custval.batch.report import SECTIONS
from runs import COLUMNS

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
#: (section, the alt text of a figure it shows) when a model converged and there is an amount.
FIGURES = [
    ("retention", "retention chart"),
    ("retention", "revenue retention chart"),
    ("cohorts", "cohort heatmap"),
    ("segments", "segment map"),
    ("concentration", "value concentration"),
    ("model-fit", "repeat transactions, actual and model"),
    ("model-fit", "model parameters with 95% intervals"),
    ("comparison", "model comparison"),
    ("calibration", "calibration vs holdout purchases"),
    ("tracking", "tracking plot"),
    ("top-clv", "CLV distribution"),
    ("at-risk", "at-risk customers"),
]
TABLES = {
    "kpis",
    "retention",
    "segments",
    "model-fit",
    "comparison",
    "calibration",
    "top-clv",
    "at-risk",
    "inputs",
}


class Page(HTMLParser):
    """Sections (by id) with their images and table rows; every URL-bearing attribute."""

    def __init__(self):
        super().__init__()
        self.sections: dict[str, dict] = {}
        self.current = None
        self.urls: list[str] = []
        self.tags: set[str] = set()

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.add(tag)
        self.urls += [v for k, v in attrs.items() if k in ("src", "href", "srcset", "action")]
        if tag == "section":
            self.current = self.sections.setdefault(attrs["id"], {"images": {}, "rows": 0})
        elif self.current is not None and tag == "img":
            self.current["images"][attrs["alt"]] = attrs["src"]
        elif self.current is not None and tag == "tr":
            self.current["rows"] += 1

    def handle_endtag(self, tag):
        if tag == "section":
            self.current = None


def parse(text: str) -> Page:
    page = Page()
    page.feed(text)
    return page


@pytest.fixture(scope="module")
def report(tmp_path_factory, small_log):
    from custval import cli
    from runs import write_parts

    root = tmp_path_factory.mktemp("report")
    logs = write_parts(small_log, root / "log")
    assert cli.main(["run", str(logs), "-o", str(root / "out"), *COLUMNS]) == 0
    return (root / "out" / "report.html").read_text()


def test_every_section_is_there_in_order(report):
    page = parse(report)
    assert list(page.sections) == list(SECTIONS)
    for section in TABLES:
        assert page.sections[section]["rows"] >= 2, section  # a header and data


def test_every_figure_is_an_inline_png(report):
    page = parse(report)
    for section, alt in FIGURES:
        src = page.sections[section]["images"].get(alt)
        assert src is not None, f"{section}: no {alt!r}"
        assert src.startswith("data:image/png;base64,"), section
        data = base64.b64decode(src.split(",", 1)[1])
        assert data.startswith(PNG_MAGIC) and len(data) > 5_000, section  # a drawn figure


def test_nothing_references_the_network(report):
    page = parse(report)
    assert page.urls and all(url.startswith("data:") for url in page.urls)
    assert not page.tags & {"script", "link", "iframe", "object", "embed"}
    assert not re.search(r"(https?:)?//[a-z0-9.-]+\.[a-z]{2,}", report, flags=re.I)
    assert "@import" not in report and "url(" not in report


def test_top_customers_and_at_risk_tables_are_filled(report):
    page = parse(report)
    assert page.sections["top-clv"]["rows"] == 1 + 25
    assert page.sections["at-risk"]["rows"] >= 2


def test_without_an_amount_the_report_says_what_is_missing(tmp_path, log_dir, run_cli):
    result = run_cli(log_dir, "-o", tmp_path / "out", "--order", "order_id")
    assert result.code == 0, result.stderr
    page = parse((tmp_path / "out" / "report.html").read_text())
    assert list(page.sections) == list(SECTIONS)
    assert page.sections["tracking"]["images"]  # the purchase model still runs
    assert not page.sections["concentration"]["images"]
    assert result.summary["revenue"] is None


def test_a_large_base_is_tracked_on_a_sample_of_customers(tmp_path, log_dir, run_cli, monkeypatch):
    from custval.batch import report as report_module

    monkeypatch.setattr(report_module, "TRACKING_ALL_UP_TO", 100)  # 3,000 customers: "large"
    result = run_cli(log_dir, "-o", tmp_path / "out", *COLUMNS)
    assert result.code == 0, result.stderr
    text = (tmp_path / "out" / "report.html").read_text()
    page = parse(text)
    assert page.sections["tracking"]["images"]["tracking plot"].startswith("data:image/png")
    assert re.search(r"whose id is 0 modulo\s+16 ", text)
