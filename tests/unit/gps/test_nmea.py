"""NMEA decoding on sentences built here: talkers, merging, dirt, dates."""

from __future__ import annotations

import functools
import operator
from datetime import datetime, timezone

import pytest

from dashpipe.gps.nmea import KNOTS_TO_MPS, BadSentence, decode_sentence, parse_nmea_lines, xor_checksum

from .conftest import sentence

UTC = timezone.utc


def rmc(
    t: str = "123519.00", status: str = "A", talker: str = "GP", date: str = "230394", lat: str = "4807.038"
) -> str:
    return sentence(f"{talker}RMC,{t},{status},{lat},N,01131.000,E,022.4,084.4,{date},003.1,W")


def gga(t: str = "123519.00", quality: str = "1", talker: str = "GP", alt: str = "545.4") -> str:
    return sentence(f"{talker}GGA,{t},4807.038,N,01131.000,E,{quality},08,0.9,{alt},M,46.9,M,,")


@pytest.mark.parametrize("n", [0, 1, 7, 82, 128, 129, 300])
def test_checksum_matches_a_plain_xor(n: int) -> None:
    body = "".join(chr(33 + (i * 37) % 90) for i in range(n))
    assert xor_checksum(body) == functools.reduce(operator.xor, body.encode(), 0)


@pytest.mark.parametrize("talker", ["GP", "GN", "GL", "GA", "GB", "BD"])
def test_any_talker_is_read_by_sentence_type(talker: str) -> None:
    s = decode_sentence(rmc(talker=talker))
    assert s is not None and s.kind == "RMC" and s.valid
    assert s.lat == pytest.approx(48 + 7.038 / 60, abs=1e-12)
    assert s.lon == pytest.approx(11 + 31.0 / 60, abs=1e-12)
    assert s.speed_mps == pytest.approx(22.4 * KNOTS_TO_MPS)
    assert s.course_deg == pytest.approx(84.4)


def test_south_west_are_negative() -> None:
    s = decode_sentence(sentence("GPGGA,010203,3349.0337,S,01843.9282,W,1,07,2.3,115.4,M,33.3,M,,"))
    assert s is not None and s.lat is not None and s.lon is not None
    assert s.lat < 0 and s.lon < 0


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        (rmc()[:-2] + "00", "bad checksum"),
        ("$GPRMC,123519,A,4807.0\x00\x00\x00", "malformed"),
        (sentence("GPRMC,123519,A,4807.038,N,01131.000,E,022.4,084.4,230394") + "junk", "malformed"),
        (sentence("GPRMC,123519,A,4867.038,N,01131.000,E,022.4,084.4,230394"), "malformed"),  # 67 minutes
        (sentence("GPRMC,123519,A,,N,,E,022.4,084.4,230394"), "malformed"),  # a fix without a position
        (sentence("GP RMC,1"), "not NMEA"),
    ],
)
def test_unusable_sentences_say_why(text: str, reason: str) -> None:
    with pytest.raises(BadSentence) as err:
        decode_sentence(text)
    assert err.value.reason == reason


def test_sentence_types_without_position_are_not_errors() -> None:
    assert decode_sentence(sentence("GPGSV,3,1,11,03,03,111,00,04,15,270,00,06,01,010,00,13,06,292,00")) is None
    assert decode_sentence(sentence("PGRME,15.0,M,45.0,M,25.0,M")) is None


def test_rmc_gga_vtg_of_one_epoch_merge_into_one_fix() -> None:
    lines = [
        gga("123519.00", alt="545.4"),
        rmc("123519.00"),
        sentence("GPVTG,084.4,T,081.3,M,022.4,N,041.5,K,A"),
        gga("123520.00", alt="546.0"),
        rmc("123520.00"),
    ]
    r = parse_nmea_lines(lines)
    assert len(r.fixes) == 2
    f = r.fixes[0]
    assert f.time == datetime(1994, 3, 23, 12, 35, 19, tzinfo=UTC)
    assert f.alt_m == 545.4 and f.fix_quality == 1 and f.hdop == 0.9
    assert f.speed_mps == pytest.approx(22.4 * KNOTS_TO_MPS) and f.course_deg == 84.4


def test_epochs_merge_even_when_not_adjacent() -> None:
    """BlackVue writes the GGA of second N+1 next to the RMC of second N."""
    lines = [rmc("120000.00"), gga("120001.00", alt="10.0"), rmc("120001.00"), gga("120002.00", alt="11.0")]
    r = parse_nmea_lines(lines)
    times = [f.time.second for f in r.fixes]
    assert times == [0, 1, 2]
    assert r.fixes[1].alt_m == 10.0 and r.fixes[1].speed_mps is not None
    assert r.fixes[2].time.date() == r.fixes[1].time.date()  # GGA dated by the RMC of its day


def test_dirt_is_counted_never_fatal() -> None:
    lines = [
        "foobar",
        rmc("000001")[:-2] + "FF",  # bad checksum
        "$GPRMC,000002,A,48\x00\x00\x00",  # NUL bytes
        sentence("GPGSA,A,1,,,,,,,,,,,,,,,") + rmc("000003"),  # spliced: both usable
        rmc("000004")[:30],  # truncated, no checksum
        "",
        "# a comment",
    ]
    r = parse_nmea_lines(lines)
    assert [f.time.second for f in r.fixes] == [3]
    assert r.skip_reasons == {"not NMEA": 1, "bad checksum": 1, "malformed": 2}
    assert r.skipped == 4
    assert r.ignored == 1  # the GSA


def test_no_fix_reports_are_counted_and_explained() -> None:
    r = parse_nmea_lines([rmc("000001", status="V"), gga("000001", quality="0"), rmc("000002", status="V")])
    assert r.fixes == () and r.no_fix == 3
    assert any("no position fix" in n for n in r.notes)


def test_void_rmc_with_garbage_coordinates_is_a_no_fix_not_an_error() -> None:
    r = parse_nmea_lines([sentence("GPRMC,000416.984,V,36000.0000,N,72000.0000,E,0.000000,,260120,,")])
    assert r.no_fix == 1 and r.skipped == 0


def test_sentence_without_checksum_is_accepted_only_when_well_formed() -> None:
    good = "$GPGGA,222449,3349.0337,S,01843.9282,E,1,07,02.31,000115.4,M,0033.3,M,,"
    cut = "$GPGGA,012530.562,4131.7353,N,09336.8150,W,0,00,50."
    zda = "$GPZDA,222449,25,10,2010,+00,00"
    r = parse_nmea_lines([good, zda, cut])
    assert len(r.fixes) == 1 and r.no_checksum == 2
    assert r.fixes[0].time == datetime(2010, 10, 25, 22, 24, 49, tzinfo=UTC)  # dated by the ZDA
    assert r.skip_reasons == {"malformed": 1}


def test_time_of_day_only_log_needs_a_reference() -> None:
    lines = [gga("235959"), gga("000001")]  # crosses midnight
    alone = parse_nmea_lines(lines)
    assert alone.fixes == () and alone.undated == 2
    assert any("reference" in n for n in alone.notes)
    dated = parse_nmea_lines(lines, reference=datetime(2024, 5, 1, 23, 50, tzinfo=UTC))
    assert [f.time for f in dated.fixes] == [
        datetime(2024, 5, 1, 23, 59, 59, tzinfo=UTC),
        datetime(2024, 5, 2, 0, 0, 1, tzinfo=UTC),
    ]


def test_gga_before_the_first_rmc_takes_its_date() -> None:
    r = parse_nmea_lines([gga("235958"), gga("235959"), rmc("000000", date="020524")])
    assert [f.time.isoformat() for f in r.fixes] == [
        "2024-05-01T23:59:58+00:00",
        "2024-05-01T23:59:59+00:00",
        "2024-05-02T00:00:00+00:00",
    ]


def test_rmc_date_across_midnight() -> None:
    r = parse_nmea_lines([rmc("235959", date="311299"), rmc("000000", date="010100")])
    assert [f.time.year for f in r.fixes] == [1999, 2000]


def test_edited_log_with_stale_checksums_is_read_with_a_note() -> None:
    """Coordinates rounded by an anonymiser that left the checksums as they were."""
    lines = []
    for i in range(5):
        real = rmc(f"10000{i}", lat=f"4807.0{i}8")
        lines.append(real.replace(f"4807.0{i}8", "4800.000"))  # checksum now stale
    r = parse_nmea_lines(lines)
    assert len(r.fixes) == 5 and r.checksum_ignored == 5
    assert all(f.lat == 48.0 for f in r.fixes)
    assert any("wrong checksum" in n for n in r.notes)


def test_a_few_bad_checksums_among_good_ones_stay_skipped() -> None:
    good = [rmc(f"10000{i}") for i in range(5)]
    bad = [rmc(f"10001{i}")[:-2] + "00" for i in range(2)]
    r = parse_nmea_lines(good + bad)
    assert len(r.fixes) == 5 and r.checksum_ignored == 0 and r.skip_reasons == {"bad checksum": 2}


def test_old_vtg_without_unit_letters() -> None:
    s = decode_sentence(sentence("GPVTG,054.7,034.4,005.5,010.2"))
    assert s is not None and s.course_deg == 54.7 and s.speed_mps == pytest.approx(5.5 * KNOTS_TO_MPS)


def test_empty_input_says_so() -> None:
    r = parse_nmea_lines([])
    assert r.fixes == () and r.notes and "empty" in r.notes[-1]
