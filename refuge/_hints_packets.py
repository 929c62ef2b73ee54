"""The ways out that the packets library's errors point to, in words naming refuge's commands.

A packets error carries a hint code (``error.hint``; for a verification report,
``report.hint``); the application prints ``message + "; " + HINTS[hint]``.
"""

HINTS = {
    "packet-consent": "record it with refuge consent grant, or build with --only-consented to leave them out",
    "packet-incomplete": "add them, or build with --allow-incomplete",
    "packet-incomplete-translator": "add them (a translator: refuge doc add ... --translator NAME), "
                                    "or build with --allow-incomplete",
    "packet-review": "look at each (refuge doc get) and run refuge redact reviewed DOC --page N, "
                     "or build with --ocr to recognise them",
    "redact-region-readd": "remove it (refuge redact remove) and add it again",
    "tsa-unreachable": "check it, or clear it with refuge keys org tsa --none",
    "verify-trust-pem": "give the PEM file from refuge keys org cert with --trust",
    "verify-trust": "pass the sender's certificate with --trust (refuge keys org cert)",
    "verify-trust-chain": "give the certificate it chains to with --trust",
    "verify-password": "give it with --password-file",
    "verify-trust-tsa": "add its root with --trust",
    "verify-manifest": "give the file refuge packet build --manifest-out wrote",
}
