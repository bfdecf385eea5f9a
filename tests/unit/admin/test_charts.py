"""The dashboard's SVG charts: the line's points and the bars, axis labels, escaping, title and desc."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET  # nosec B405 - parses the test's own output

from gateway.admin.charts import HEIGHT, Bar, bar_chart, line_chart

SVG = "{http://www.w3.org/2000/svg}"


def _points(path: str) -> list[tuple[float, float]]:
    return [(float(x), float(y)) for x, y in re.findall(r"[ML]([\d.]+),([\d.]+)", path)]


def test_a_line_goes_through_each_value_left_to_right_from_a_zero_axis() -> None:
    svg = line_chart([0, 5, 10, 5], [(0, "00:00"), (2, "08:00")], title="Gửi", desc="Mỗi phút", chart_id="c")
    root = ET.fromstring(svg)  # nosec B314 - the test's own output
    assert root.find(f"{SVG}title").text == "Gửi" and root.find(f"{SVG}desc").text == "Mỗi phút"
    points = _points(root.find(f".//{SVG}path").get("d"))
    xs, ys = [x for x, _ in points], [y for _, y in points]
    assert len(points) == 4 and xs == sorted(xs)
    assert ys[0] > ys[1] > ys[2] and ys[1] == ys[3]  # higher value, higher on the page (smaller y)
    assert ys[0] == HEIGHT - 36  # zero sits on the axis
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert texts[:3] == ["0", "5", "10"]  # the value axis: 0, half, a round top
    assert "00:00" in texts and "08:00" in texts
    assert [c.get("data-value") for c in root.iter(f"{SVG}circle")] == ["0", "5", "10", "5"]


def test_the_value_axis_tops_at_a_round_number_and_an_empty_chart_still_draws() -> None:
    root = ET.fromstring(line_chart([3, 7.2], [], title="t", desc="d", chart_id="c"))  # nosec B314
    assert [t.text for t in root.iter(f"{SVG}text")] == ["0", "5", "10"]
    empty = ET.fromstring(line_chart([], [], title="t", desc="d", chart_id="c"))  # nosec B314
    assert empty.find(f".//{SVG}path") is None
    assert ET.fromstring(bar_chart([], title="t", desc="d", chart_id="b")).find(f".//{SVG}rect") is None  # nosec B314


def test_bars_in_the_given_order_taller_for_more_with_labels_and_values() -> None:
    svg = bar_chart([Bar("16171", 4), Bar("16172", 2)], title="Quá hạn", desc="theo xã", chart_id="b")
    root = ET.fromstring(svg)  # nosec B314
    rects = list(root.iter(f"{SVG}rect"))
    assert [r.get("data-label") for r in rects] == ["16171", "16172"]
    assert float(rects[0].get("height")) == 2 * float(rects[1].get("height"))
    assert float(rects[0].get("x")) < float(rects[1].get("x"))
    assert [r.find(f"{SVG}title").text for r in rects] == ["16171: 4", "16172: 2"]
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert "16171" in texts and "4" in texts


def test_every_text_is_escaped_and_nothing_is_styled_inline_or_scripted() -> None:
    svg = bar_chart([Bar('<script>"x"</script>', 1)], title="<b>t</b>", desc="a & b", chart_id="b")
    assert "<script>" not in svg and "&lt;script&gt;" in svg and "&lt;b&gt;" in svg and "a &amp; b" in svg
    ET.fromstring(svg)  # nosec B314 - still well-formed
    line = line_chart([1, 2], [(0, "<x>")], title="t", desc="d", chart_id="c")
    for text in (svg, line):
        assert "style=" not in text and "<script" not in text and "href" not in text
