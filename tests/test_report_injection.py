"""Report files run nothing: no spreadsheet formulas, no live HTML, no silent truncation."""

from __future__ import annotations

import csv
import logging
import re

import pandas as pd
import pytest

from nmgeo._writers import neutralise_formulas
from nmgeo.report import write_report

openpyxl = pytest.importorskip("openpyxl")

PAYLOAD = "<img src=x onerror=alert(1)>"


@pytest.fixture
def risky() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "note": ["=1+1", "+cmd", "-x", "@SUM(A1)", "\tTAB", "\rCR", "plain", "a=b"],
            "n": [-5, 1, 2, 3, 4, 5, 6, 7],
            "area_ha": [-1.5, 0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
            "=HYPERLINK()": ["x"] * 8,
        }
    )


EXPECTED_NOTES = ["'=1+1", "'+cmd", "'-x", "'@SUM(A1)", "'\tTAB", "'\rCR", "plain", "a=b"]


def test_neutralise_formulas_prefixes_text_only_and_leaves_input_alone(risky, caplog):
    original = risky.copy()
    with caplog.at_level(logging.INFO, logger="nmgeo.report"):
        safe = neutralise_formulas(risky)
    pd.testing.assert_frame_equal(risky, original)  # a copy; the input is unchanged
    assert safe["note"].tolist() == EXPECTED_NOTES
    assert safe["n"].tolist() == [-5, 1, 2, 3, 4, 5, 6, 7]
    assert safe["n"].dtype == risky["n"].dtype
    assert safe["area_ha"].tolist() == [-1.5, 0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0]
    assert list(safe.columns) == ["note", "n", "area_ha", "'=HYPERLINK()"]
    messages = [r.getMessage() for r in caplog.records if r.name == "nmgeo.report"]
    assert any("6 cell(s)" in m and "1 column name(s)" in m for m in messages), messages


def test_neutralise_formulas_handles_string_missing_and_mixed_values():
    frame = pd.DataFrame(
        {
            "s": pd.array(["-a", None, "b"], dtype="string"),
            "mixed": [-5, "=x", None],
            "cat": pd.Categorical(["@a", "b", "@a"]),
        }
    )
    safe = neutralise_formulas(frame)
    assert safe["s"].dtype == "string"
    assert safe["s"].tolist()[0] == "'-a" and safe["s"].isna().tolist() == [False, True, False]
    assert safe["mixed"].tolist()[:2] == [-5, "'=x"]  # the number in a text column stays
    assert safe["cat"].tolist() == ["'@a", "b", "'@a"]


def test_csv_cells_and_headers_read_back_neutralised(risky, tmp_path):
    written = write_report({"t": risky}, tmp_path / "r", formats=("csv",))
    with open(written["csv:t"], newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["note", "n", "area_ha", "'=HYPERLINK()"]
    # Every row reads back whole, the carriage-return cell included.
    assert len(rows) == 1 + len(risky)
    assert [r[0] for r in rows[1:]] == EXPECTED_NOTES
    assert rows[1][1] == "-5" and rows[1][2] == "-1.5"  # numbers unprefixed
    back = pd.read_csv(written["csv:t"], keep_default_na=False)
    assert back["note"].tolist() == EXPECTED_NOTES
    assert back.loc[0, "n"] == -5 and pd.api.types.is_integer_dtype(back["n"])
    assert back.loc[0, "area_ha"] == -1.5


@pytest.mark.parametrize("breaking", ["a\rb", "a\nb", "a\r\nb", "x\r", "a\n\rb"])
def test_a_cell_with_any_line_break_stays_in_its_row(breaking, tmp_path):
    table = pd.DataFrame({"text": ["first", breaking, "last"], "n": [1, 2, 3]})
    written = write_report({"t": table}, tmp_path / "r", formats=("csv",))
    with open(written["csv:t"], newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    assert rows == [["text", "n"], ["first", "1"], [breaking, "2"], ["last", "3"]]
    back = pd.read_csv(written["csv:t"])
    assert back["text"].tolist() == ["first", breaking, "last"]


def test_xlsx_cells_and_headers_read_back_neutralised(risky, tmp_path):
    written = write_report({"t": risky}, tmp_path / "r", formats=("xlsx",))
    sheet = openpyxl.load_workbook(written["xlsx"])["t"]
    header = [c.value for c in sheet[1]]
    assert header == ["note", "n", "area_ha (ha)", "'=HYPERLINK()"]
    notes = [sheet.cell(row=i, column=1).value for i in range(2, 10)]
    # XML reading turns the stored CR into LF; the apostrophe is what matters.
    assert notes[5] in ("'\rCR", "'\nCR")
    assert notes[:5] + notes[6:] == EXPECTED_NOTES[:5] + EXPECTED_NOTES[6:]
    assert all(sheet.cell(row=i, column=1).data_type == "s" for i in range(2, 10))
    minus_five = sheet["B2"]
    assert minus_five.value == -5 and minus_five.data_type == "n"
    assert sheet["C2"].value == -1.5 and sheet["C2"].data_type == "n"
    assert not any(c.data_type == "f" for row in sheet.iter_rows() for c in row)
    back = pd.read_excel(written["xlsx"], sheet_name="t")
    assert back.loc[0, "note"] == "'=1+1" and back.loc[0, "n"] == -5


def test_xlsx_truncates_long_text_with_a_warning(tmp_path, caplog):
    long = "a" * 40_000
    table = pd.DataFrame({"text": [long, "short", "b" * 32_767]})
    with caplog.at_level(logging.WARNING, logger="nmgeo.report"):
        written = write_report({"t": table}, tmp_path / "r", formats=("xlsx", "csv"))
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "1 cell(s)" in warnings[0].getMessage() and "32767" in warnings[0].getMessage()
    sheet = openpyxl.load_workbook(written["xlsx"])["t"]
    assert sheet["A2"].value == "a" * 32_767
    assert sheet["A3"].value == "short"
    assert sheet["A4"].value == "b" * 32_767  # at the limit: kept whole
    back = pd.read_csv(written["csv:t"])
    assert back.loc[0, "text"] == long  # the CSV keeps the full text


def test_xlsx_at_the_limit_gives_no_warning(tmp_path, caplog):
    table = pd.DataFrame({"text": ["c" * 32_767]})
    with caplog.at_level(logging.WARNING, logger="nmgeo.report"):
        write_report({"t": table}, tmp_path / "r", formats=("xlsx",))
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


@pytest.fixture
def html_payload() -> dict[str, pd.DataFrame]:
    table = pd.DataFrame(
        {
            "zone": [PAYLOAD, "a & b | c"],
            PAYLOAD: [1.0, 2.0],
        }
    )
    return {f"t {PAYLOAD}": table}


def test_html_report_carries_no_live_html(html_payload, tmp_path):
    written = write_report(html_payload, tmp_path / "r", formats=("html",), title=PAYLOAD)
    page = written["html"].read_text(encoding="utf-8")
    assert "<img" not in page
    assert "onerror=alert(1)>" not in page
    escaped = "&lt;img src=x onerror=alert(1)&gt;"
    assert f"<title>{escaped}</title>" in page
    assert f"<h1>{escaped}</h1>" in page
    assert f"<h2>t {escaped}</h2>" in page
    assert f"<th>{escaped}</th>" in page
    assert f"<td>{escaped}</td>" in page
    assert "<td>a &amp; b | c</td>" in page


def test_markdown_report_carries_no_raw_html(html_payload, tmp_path):
    written = write_report(html_payload, tmp_path / "r", formats=("md",), title=PAYLOAD)
    text = written["md"].read_text(encoding="utf-8")
    assert "<" not in text and ">" not in text
    escaped = "&lt;img src=x onerror=alert(1)&gt;"
    lines = text.splitlines()
    assert lines[0] == f"# {escaped}"
    assert f"## t {escaped}" in lines
    header = next(line for line in lines if line.startswith("|"))
    assert escaped in header
    rows = [line for line in lines if line.startswith("|")][2:]
    assert len(rows) == 2
    cells = [[c.strip() for c in re.split(r"(?<!\\)\|", row.strip())[1:-1]] for row in rows]
    assert cells[0] == [escaped, "1"]
    assert cells[1] == ["a &amp; b \\| c", "2"]  # the pipe cannot break the table


def test_markdown_and_html_keep_ordinary_text(tmp_path):
    table = pd.DataFrame({"package_id": ["P001"], "area_ha": [12.5]})
    written = write_report({"packages": table}, tmp_path / "r", formats=("md", "html"))
    text = written["md"].read_text(encoding="utf-8")
    assert "| P001 " in text and "12.5" in text and "&" not in text
    page = written["html"].read_text(encoding="utf-8")
    assert "<td>P001</td>" in page and '<td class="num">12.5</td>' in page


def test_markdown_carries_no_live_links_or_images(tmp_path):
    markdown = pytest.importorskip("markdown")
    table = pd.DataFrame(
        {"note": ["[click](javascript:alert(1))", "![x](https://evil.example/b.png)"]}
    )
    written = write_report(
        {"t": table}, tmp_path / "r", formats=("md",), title="[t](javascript:x)"
    )
    page = markdown.markdown(written["md"].read_text(encoding="utf-8"), extensions=["tables"])
    assert "<a" not in page and "<img" not in page
    assert "[click](javascript:alert(1))" in page  # shown as the text it is


def test_control_characters_in_categories_and_headers_are_stripped_in_xlsx(tmp_path):
    table = pd.DataFrame({"c": pd.Categorical(["\x01=1", "ok"]), "k\x01x": [1, 2]})
    written = write_report({"t": table}, tmp_path / "r", formats=("xlsx",))
    sheet = openpyxl.load_workbook(written["xlsx"])["t"]
    assert [c.value for c in sheet[1]] == ["c", "kx"]
    assert [c.value for c in sheet["A"][1:]] == ["'=1", "ok"]  # stripped, then neutralised
