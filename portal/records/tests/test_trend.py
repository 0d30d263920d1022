"""One test's past values: the chart's geometry and words, and the trend page."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from portal.audit.models import AuditEvent
from portal.patients.models import Scope
from portal.records.models import Observation
from portal.records.tests.support import days_ago, make_panel
from portal.records.trend import MAX_POINTS, build_chart
from portal.records.views_results import TREND_ROWS_PER_PAGE
from portal.test import World, assert_same_as_missing, query_count

pytestmark = pytest.mark.django_db

POTASSIUM = "2823-3"


def potassium(world: World, value: str, days: float, **fields: Any) -> Observation:
    return Observation.objects.create(
        patient=fields.pop("patient", world.alice),
        code=POTASSIUM,
        name="Potassium",
        value_number=Decimal(value),
        unit=fields.pop("unit", "mmol/L"),
        range_low=Decimal("3.5"),
        range_high=Decimal("5.1"),
        interpretation=fields.pop("interpretation", Observation.Interpretation.NORMAL),
        effective_at=days_ago(days),
        **fields,
    )


def unsaved(value: str, days: float, unit: str = "mmol/L", flag: str = "N") -> Observation:
    return Observation(
        code=POTASSIUM,
        name="Potassium",
        value_number=Decimal(value),
        unit=unit,
        range_low=Decimal("3.5"),
        range_high=Decimal("5.1"),
        interpretation=flag,
        effective_at=days_ago(days),
    )


def trend_url(code: str = POTASSIUM, **query: str) -> str:
    url = reverse("records:trend", args=[code])
    return url + ("?" + "&".join(f"{key}={value}" for key, value in query.items()) if query else "")


# The chart -----------------------------------------------------------------------------------


def test_the_chart_plots_oldest_to_newest_with_the_normal_range_shaded() -> None:
    rows = [unsaved("5.4", 1, flag="H"), unsaved("4.2", 30), unsaved("3.9", 60)]  # newest first
    chart = build_chart("Potassium", rows)
    assert chart is not None
    assert [point.x for point in chart.points] == sorted(point.x for point in chart.points)
    assert chart.points[-1].abnormal and not chart.points[0].abnormal
    assert chart.points[-1].y < chart.points[0].y  # higher values are drawn higher up
    assert chart.band is not None
    band_top, band_bottom = chart.band.y, chart.band.y + chart.band.height
    assert band_top < chart.points[1].y < band_bottom  # 4.2 is inside the range
    assert chart.points[-1].y < band_top  # 5.4 is above it
    assert chart.title.startswith("Potassium: 3 values from ")
    assert chart.description.startswith("Latest 5.4 mmol/L, high.")
    assert "Normal range 3.5 - 5.1 mmol/L" in chart.description
    assert len(chart.x_ticks) >= 2 and len(chart.y_ticks) >= 3
    labels = [tick.label for tick in chart.y_ticks]
    assert all(re.fullmatch(r"-?\d+(\.\d+)?", label) for label in labels)


def test_the_chart_leaves_out_other_units_and_says_so() -> None:
    chart = build_chart("Potassium", [unsaved("5.0", 1), unsaved("19", 10, unit="mg/dL"), unsaved("4.0", 20)])
    assert chart is not None
    assert len(chart.points) == 2
    assert chart.left_out == 1
    assert "in the table only" in chart.description


def test_the_chart_draws_at_most_the_latest_values() -> None:
    rows = [unsaved(str(4 + (number % 10) / 10), number) for number in range(MAX_POINTS + 30)]
    chart = build_chart("Potassium", rows)
    assert chart is not None
    assert len(chart.points) == MAX_POINTS


def test_one_value_or_no_range_still_draws() -> None:
    single = build_chart("Potassium", [unsaved("4.4", 1)])
    assert single is not None and len(single.points) == 1 and single.title.startswith("Potassium: 1 value ")
    bare = unsaved("4.4", 1)
    bare.range_low = bare.range_high = None
    assert build_chart("Potassium", [bare, unsaved("4.0", 5)]) is not None
    no_range = build_chart("Potassium", [bare])
    assert no_range is not None and no_range.band is None


def test_text_only_values_make_no_chart() -> None:
    text = Observation(code="x", name="Culture", value_text="No growth", effective_at=days_ago(1))
    assert build_chart("Culture", [text]) is None


# The page ------------------------------------------------------------------------------------


def test_the_page_has_an_svg_chart_and_a_table_of_every_value(client: Client, world: World) -> None:
    potassium(world, "5.4", 1, interpretation=Observation.Interpretation.HIGH)
    potassium(world, "4.1", 40)
    client.force_login(world.alice_user)
    response = client.get(trend_url())
    assert response.status_code == 200
    page = response.content.decode()
    assert '<svg xmlns="http://www.w3.org/2000/svg"' in page
    assert 'role="img"' in page
    assert '<title id="trend-chart-title">Potassium: 2 values from' in page
    assert "Latest 5.4 mmol/L, high." in page
    assert "<polyline" in page
    assert "Every value, newest first" in page
    table = page[page.index("<table") :]
    assert table.index("5.4 mmol/L") < table.index("4.1 mmol/L")
    assert "High" in table and "3.5 - 5.1 mmol/L" in table
    assert "What this test measures:" in page
    event = AuditEvent.objects.get(action="records.trend_view")
    assert event.detail == {"code": POTASSIUM}


def test_the_svg_coordinates_are_not_localised(client: Client, world: World) -> None:
    potassium(world, "5.4", 1)
    potassium(world, "4.15", 40)
    client.force_login(world.alice_user)
    page = client.get(trend_url(), HTTP_ACCEPT_LANGUAGE="es").content.decode()
    svg = page[page.index("<svg") : page.index("</svg>")]
    assert re.search(r'cy="\d+\.\d"', svg)
    assert not re.search(r'(x|y|cx|cy|height)="\d+,\d', svg)


def test_the_table_pages_through_a_long_history(client: Client, world: World) -> None:
    for number in range(TREND_ROWS_PER_PAGE + 5):
        potassium(world, "4.0", number + 1)
    client.force_login(world.alice_user)
    first = client.get(trend_url())
    assert len(first.context["page"].items) == TREND_ROWS_PER_PAGE
    cursor = first.context["page"].next_cursor
    assert cursor
    second = client.get(trend_url(after=cursor))
    assert len(second.context["page"].items) == 5
    assert second.context["chart"] is not None


def test_the_page_costs_the_same_for_5_and_50_values(client: Client, world: World) -> None:
    for number in range(5):
        make_panel(world.alice, when=days_ago(number + 1))
    client.force_login(world.alice_user)
    client.get(trend_url())
    few = query_count(lambda: client.get(trend_url()))
    for number in range(45):
        make_panel(world.alice, when=days_ago(number + 10))
    assert query_count(lambda: client.get(trend_url())) == few


def test_an_unknown_code_is_missing(client: Client, world: World) -> None:
    potassium(world, "4.0", 1)
    client.force_login(world.alice_user)
    assert client.get(trend_url("0000-0")).status_code == 404
    assert client.get("/record/results/trend/" + "9" * 60 + "/").status_code == 404
    assert client.get("/record/results/trend/%3Cscript%3E/").status_code == 404


def test_another_patients_trend_looks_missing(client: Client, world: World) -> None:
    potassium(world, "4.0", 1)
    client.force_login(world.bob_user)
    assert_same_as_missing(client.get(trend_url()), client.get(trend_url("0000-0")))


def test_a_proxy_sees_the_trend_and_one_without_view_scope_does_not(client: Client, world: World) -> None:
    potassium(world, "4.0", 1)
    client.force_login(world.proxy_user)
    assert client.get(trend_url()).status_code == 200
    world.proxy_grant.scopes = [Scope.MESSAGE]
    world.proxy_grant.save()
    assert client.get(trend_url()).status_code == 403


def test_staff_and_anonymous_do_not_reach_the_trend(client: Client, world: World) -> None:
    potassium(world, "4.0", 1)
    assert client.get(trend_url())["Location"].startswith(reverse("account_login"))
    client.force_login(world.unassigned_staff)
    response = client.get(trend_url())
    assert response.status_code == 302 and response["Location"] == reverse("staff:home")


def test_the_cursor_survives_a_tie_in_time(client: Client, world: World) -> None:
    moment = dt.datetime(2025, 1, 1, 8, 30, tzinfo=dt.UTC)
    rows = [
        Observation.objects.create(
            patient=world.alice,
            code=POTASSIUM,
            name="Potassium",
            value_number=Decimal("4.0"),
            unit="mmol/L",
            effective_at=moment,
        )
        for _ in range(TREND_ROWS_PER_PAGE + 3)
    ]
    client.force_login(world.alice_user)
    first = client.get(trend_url())
    second = client.get(trend_url(after=first.context["page"].next_cursor))
    seen = [row.pk for row in first.context["page"].items] + [row.pk for row in second.context["page"].items]
    assert sorted(seen) == sorted(row.pk for row in rows)


def test_odd_local_codes_get_a_trend_or_none_but_never_an_error(client: Client, world: World) -> None:
    report = make_panel(
        world.alice,
        values=[
            ("LOCAL K^2", "Local potassium", "4.0", "mmol/L", "3.5", "5.1"),
            ("A/B", "Slashed", "1", "u", "0", "2"),
        ],
    )
    client.force_login(world.alice_user)
    page = client.get(reverse("records:result", args=[report.pk])).content.decode()
    local = reverse("records:trend", args=["LOCAL K^2"])
    assert local in page
    assert page.count("See all past values") == 1  # a code with a slash cannot be a URL part
    assert client.get(local).status_code == 200
