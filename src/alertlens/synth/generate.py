"""Synthetic SOC alert stream: four native alert sources, realistic causes, noisy labels, drift.

The default raw data set when no SIEM export is at hand. ``generate_alerts`` yields alerts in
time order over eight weeks from ``SYNTH_START``; the scenarios that cause them (and whether each
is a false or a true positive) live in :mod:`alertlens.synth.scenarios`.

Every record carries the common keys ``alert_id``, ``@timestamp``, ``source``, ``tenant``,
``rule`` and ``triage`` plus its source's native fields. ``_synth`` holds the generation ground
truth (scenario, whether the analyst's verdict was flipped, the fields that carry the scenario's
decisive evidence): it exists for tests and evaluation (``data.truth``) and must never be used
as model input.

Only the standard library and one ``random.Random(seed)`` are used, in a fixed draw order, so a
seed gives byte-identical output on any machine and Python version with the same ``random``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from itertools import accumulate
from pathlib import Path
from random import Random
from typing import Any

from alertlens.synth.parts import RULES, Host, Site, World, hexs, word, words
from alertlens.synth.scenarios import SCENARIOS, Scenario, time_weight

log = logging.getLogger(__name__)

SYNTH_START = datetime(2026, 1, 5, tzinfo=UTC)  # a Monday
SYNTH_WEEKS = 8
DRIFT_FROM_WEEK = 6  # zero-based: the drift scenarios appear in weeks 7 and 8
UNTRIAGED_RATE = 0.03
# Analyst error is lopsided in a SOC: real attacks closed as benign at tier 1 are common,
# while a "true positive" verdict follows an investigation and is rarely wrong. About 2% of
# verdicts end up wrong overall, almost all of them missed attacks.
MISSED_ATTACK_RATE = 0.12  # true positive closed as false positive
OVER_ESCALATION_RATE = 0.001  # false positive recorded as true positive
# A golden set's verdicts come from a second, senior review: no tier-1 noise, nothing untriaged.
REVIEWER = "golden.review"

TENANTS = (  # (tenant, NetBIOS domain, public domain, home country, relative alert volume)
    ("acme", "ACME", "acme-corp.com", "US", 34),
    ("globex", "GLOBEX", "globex-intl.com", "DE", 26),
    ("initech", "INITECH", "initech-corp.com", "US", 22),
    ("umbrella", "UMBRELLA", "umbrella-health.com", "GB", 18),
)
ANALYSTS = words("a.kowalski m.chen s.okafor r.silva j.becker l.nguyen p.sharma t.haddad")
FIRST_NAMES = words(
    "james mary robert patricia john jennifer michael linda david elizabeth william barbara "
    "richard susan joseph jessica thomas sarah chris karen daniel lisa matthew nancy anthony "
    "sandra mark ashley paul emily steven donna andrew michelle kevin carol brian amanda george "
    "melissa timothy deborah lukas anna jonas lea felix mia ahmed fatima wei yuki raj priya"
)
LAST_NAMES = words(
    "smith johnson williams brown jones garcia miller davis rodriguez martinez hernandez lopez "
    "gonzalez wilson anderson thomas taylor moore jackson martin lee perez thompson white harris "
    "sanchez clark ramirez lewis robinson walker young allen king wright scott torres nguyen hill "
    "flores green adams nelson baker hall rivera campbell mitchell carter roberts mueller schmidt "
    "schneider fischer weber patel khan tanaka kim"
)
SERVICE_ACCOUNTS = words(
    "svc_backup svc_sql svc_sccm svc_veeam svc_ansible svc_web svc_ldap svc_jenkins svc_monitor "
    "svc_print svc_sharepoint svc_adsync"
)
WINDOWS_CLIENT_OS = ("Windows 10 Enterprise 22H2", "Windows 11 Enterprise 23H2")
WINDOWS_SERVER_OS = ("Windows Server 2019 Datacenter", "Windows Server 2022 Datacenter")
LINUX_OS = ("Ubuntu 22.04.3 LTS", "Ubuntu 20.04.6 LTS", "Rocky Linux 9.3", "RHEL 8.9")
WINDOWS_ROLES = words("dc fs sql exch app sccm print rds ca hv sp erp")
LINUX_ROLES = words("db k8s elk git jenkins kafka redis vault nfs")
ATTACKER_COUNTRIES = words("RU CN NG BR VN IR UA RO NL US DE SG IN ID KR TR")
TRAVEL_COUNTRIES = words("FR ES NL CA IT IE CH AT")
RARE_TLDS = words("xyz top online site club icu info live biz ru cc pw")
# First octets of ordinary hosting and ISP space; avoids private, reserved and famous ranges.
PUBLIC_FIRST_OCTETS = (
    5, 31, 37, 45, 46, 62, 77, 78, 79, 80, 81, 82, 83, 84, 85, 86, 87, 88, 89, 91, 92, 93, 94,
    95, 103, 109, 141, 146, 147, 154, 156, 159, 162, 167, 176, 178, 179, 185, 188, 193, 194, 195,
    196, 197, 212, 213, 217,
)  # fmt: skip
# Server third octets: everything in 10.0.0.0/16 except 10.0.5.0/24, home of the scanners.
SERVER_OCTETS = tuple(o for o in range(256) if o != 5)


def _public_ip(rng: Random) -> str:
    octets = (rng.randrange(256), rng.randrange(256), rng.randrange(1, 255))
    return f"{rng.choice(PUBLIC_FIRST_OCTETS)}.{octets[0]}.{octets[1]}.{octets[2]}"


def _server_ip(rng: Random) -> str:
    return f"10.0.{rng.choice(SERVER_OCTETS)}.{rng.randrange(1, 255)}"


def _workstation_ip(rng: Random) -> str:
    return f"10.20.{rng.randrange(256)}.{rng.randrange(1, 255)}"


def _servers(
    rng: Random, prefix: str, roles: tuple[str, ...], per_role: int, oses: tuple[str, ...]
) -> tuple[Host, ...]:
    """Named ``{prefix}-{role}-{nn}`` servers with addresses in 10.0.0.0/16."""
    return tuple(
        (f"{prefix}-{role}-{n:02d}", _server_ip(rng), rng.choice(oses))
        for role in roles
        for n in range(1, rng.randint(1, per_role) + 1)
    )


def _workstations(rng: Random, prefix: str, kinds: tuple[str, ...], count: int) -> tuple[Host, ...]:
    """Numbered workstations with addresses in 10.20.0.0/16."""
    numbers = rng.sample(range(1, 10000), count)
    return tuple(
        (
            f"{prefix}-{rng.choice(kinds)}-{n:04d}",
            _workstation_ip(rng),
            rng.choice(WINDOWS_CLIENT_OS),
        )
        for n in numbers
    )


def _users(rng: Random, count: int) -> tuple[str, ...]:
    """Distinct ``first.last`` accounts, in draw order (dict keeps it deterministic)."""
    names = (f"{rng.choice(FIRST_NAMES)}.{rng.choice(LAST_NAMES)}" for _ in range(count))
    return tuple(dict.fromkeys(names))


def _site(rng: Random, tenant: tuple[str, str, str, str, int], world: World) -> Site:
    """One tenant's estate, drawn from the seeded generator."""
    name, netbios, domain, country, _ = tenant
    short = name[:3].upper()
    windows_servers = _servers(rng, name, WINDOWS_ROLES, 6, WINDOWS_SERVER_OS)
    linux_web = _servers(rng, name, ("web", "tomcat"), 6, LINUX_OS)
    home = tuple(
        (_public_ip(rng), country if rng.random() < 0.92 else rng.choice(TRAVEL_COUNTRIES))
        for _ in range(800)
    )
    return Site(
        tenant=name,
        netbios=netbios,
        country=country,
        vhosts=tuple(f"{sub}.{domain}" for sub in words("www shop api portal support careers")),
        workstations=_workstations(rng, short, ("WS", "LT"), 600),
        dev_workstations=_workstations(rng, short, ("DEV",), 40),
        windows_servers=windows_servers,
        iis_servers=_servers(rng, name, ("iis",), 5, WINDOWS_SERVER_OS),
        linux_web=linux_web,
        linux_servers=linux_web + _servers(rng, name, LINUX_ROLES, 4, LINUX_OS),
        staging=_servers(rng, "stg", words("api web app db"), 4, LINUX_OS),
        monitors=_servers(rng, name, ("mon",), 3, LINUX_OS),
        dns_servers=tuple(h for h in windows_servers if "-dc-" in h[0]),
        users=_users(rng, 450),
        service_accounts=SERVICE_ACCOUNTS,
        file_server=f"{name}-fs-01",
        home_ips=home,
        world=world,
    )


def _c2_domain(rng: Random) -> str:
    """Throwaway domains: word salad, hex prefixes, or consonant strings."""
    consonants = "".join(rng.choices("bcdfghjklmnpqrstvwxz", k=rng.randint(7, 14)))
    stem = rng.choice(
        (f"{word(rng)}{word(rng)}", f"{hexs(rng, 6)}{word(rng)}", f"cdn-{word(rng)}", consonants)
    )
    return f"{stem}.{rng.choice(RARE_TLDS)}"


def _world(rng: Random) -> World:
    """The internet as the tenants see it: attackers, their infrastructure, cloud services."""
    hosts = [_public_ip(rng) if rng.random() < 0.5 else _c2_domain(rng) for _ in range(80)]
    return World(
        attackers=tuple((_public_ip(rng), rng.choice(ATTACKER_COUNTRIES)) for _ in range(400)),
        payload_hosts=tuple(h + rng.choice(("", "", ":8080", ":8000")) for h in hosts),
        c2_domains=tuple(_c2_domain(rng) for _ in range(60)),
        tunnel_domains=tuple(f"{rng.choice('tdn')}.{_c2_domain(rng)}" for _ in range(15)),
        cloud_ips=tuple(_public_ip(rng) for _ in range(80)),
        common_ja3=tuple(hexs(rng, 32) for _ in range(25)),
        rare_ja3=tuple(hexs(rng, 32) for _ in range(12)),
    )


def build_sites(rng: Random) -> tuple[Site, ...]:
    """All tenants' estates sharing one world, drawn in a fixed order."""
    world = _world(rng)
    return tuple(_site(rng, tenant, world) for tenant in TENANTS)


def _cumulative_weights(hour: int, weekday: int, drift: bool) -> list[float]:
    """Scenario weights at one hour of one weekday, cumulated for ``Random.choices``."""
    weights = (
        s.weight * time_weight(s.profile, hour, weekday) if drift or not s.drift else 0.0
        for s in SCENARIOS
    )
    return list(accumulate(weights))


def _triage(rng: Random, verdict: str) -> tuple[dict[str, str | None], bool]:
    """The analyst's verdict: sometimes missing, sometimes wrong (returned flag says so)."""
    if rng.random() < UNTRIAGED_RATE:
        return {"verdict": None, "analyst": None}, False
    flip_rate = MISSED_ATTACK_RATE if verdict == "true_positive" else OVER_ESCALATION_RATE
    flipped = rng.random() < flip_rate
    if flipped:
        verdict = "true_positive" if verdict == "false_positive" else "false_positive"
    return {"verdict": verdict, "analyst": rng.choice(ANALYSTS)}, flipped


def _record(
    index: int, stamp: str, scenario: Scenario, site: Site, rng: Random, reviewed: bool
) -> dict[str, Any]:
    """One alert: common keys, the source's native body, triage, then generation truth.

    ``reviewed``: the verdict is the scenario's own, as a second review would record it; the
    analyst's draw still happens, so a seed gives the same alerts either way.
    """
    rule, body = scenario.build(rng, site)
    rule_id, severity = RULES[rule]
    record: dict[str, Any] = {
        "alert_id": f"SYN-{index:07d}",
        "@timestamp": stamp,
        "source": scenario.source,
        "tenant": site.tenant,
        "rule": {"name": rule, "id": rule_id, "severity": severity},
    }
    record.update(body)
    record["triage"], flipped = _triage(rng, scenario.verdict)
    if reviewed:
        record["triage"] = {"verdict": scenario.verdict, "analyst": REVIEWER}
        flipped = False
    record["_synth"] = {
        "scenario": scenario.name,
        "label_flipped": flipped,
        "evidence": list(scenario.evidence),
    }
    return record


def generate_alerts(n: int, seed: int = 7, reviewed: bool = False) -> Iterator[dict[str, Any]]:
    """Yield ``n`` synthetic alerts in ascending time order over ``SYNTH_WEEKS`` weeks.

    ``reviewed``: every alert carries its true verdict (a golden set), not a tier-1 analyst's.
    """
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    rng = Random(seed)
    sites = build_sites(rng)
    site_weights = list(accumulate(t[4] for t in TENANTS))
    days = SYNTH_WEEKS * 7
    tables = {
        (hour, day): _cumulative_weights(hour, day % 7, day // 7 >= DRIFT_FROM_WEEK)
        for day in range(days)
        for hour in range(24)
    }
    dates = [(SYNTH_START + timedelta(days=d)).strftime("%Y-%m-%dT") for d in range(days)]
    step = days * 86400 / max(n, 1)
    for i in range(n):
        # One jittered instant per slot keeps the stream sorted without a sort.
        day, second = divmod(int((i + rng.random()) * step), 86400)
        hour, rest = divmod(second, 3600)
        stamp = f"{dates[day]}{hour:02d}:{rest // 60:02d}:{rest % 60:02d}Z"
        scenario = rng.choices(SCENARIOS, cum_weights=tables[hour, day])[0]
        site = rng.choices(sites, cum_weights=site_weights)[0]
        yield _record(i, stamp, scenario, site, rng, reviewed)


def write_synthetic(path: Path, n: int = 20000, seed: int = 7, reviewed: bool = False) -> int:
    """Write ``n`` alerts as JSON Lines to ``path`` (parents created); return the count."""
    path.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    with path.open("w", encoding="utf-8", newline="\n") as out:
        for record in generate_alerts(n, seed, reviewed):
            out.write(json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n")
            count += 1
    log.info("wrote %d synthetic alerts (seed %d) to %s", count, seed, path)
    return count
