"""The ways out that library errors point to, in words naming refuge's commands.

A library raises ``NotFound("no case X among your cases", hint="case-list")``;
the application prints "no case X among your cases; see refuge case list".
"""

HINTS: dict[str, str] = {
    "packet-too-big": "scan it again (150 dpi, black and white) or split it into smaller documents and add "
                      "those (refuge doc add), leave it out, or build for a portal with a larger limit "
                      "(refuge packet build --portal NAME; refuge packet profiles --json lists them)",
    "packet-portal": "name one of the profile's portals (refuge packet profiles --json lists them)",
    "packet-consent": "record it with refuge consent grant, or build with --only-consented to leave them out",
    "packet-incomplete": "add them (refuge doc add REF FILE --type TYPE), or build with --allow-incomplete",
    "packet-incomplete-translator": "add them (a translator: refuge doc add ... --translator NAME), "
                                    "or build with --allow-incomplete",
    "packet-review": "look at each (refuge doc get DOC -o FILE) and run refuge redact reviewed DOC --page N, "
                     "or build with --ocr to recognise them",
    "packet-review-recognised": "look at each (refuge doc get DOC -o FILE) and run refuge redact reviewed DOC --page N "
                                "(recognition read too little of them for the rules to be checked)",
    "coverage-gap": "see refuge packet plan; register people and places (refuge person add, refuge place add), "
                    "add terms (refuge redact term), dismiss names (refuge candidate dismiss), or accept each gap "
                    "with --accept-gap NAME --reason TEXT",
    "coverage-reason": "give it with --reason TEXT",
    "register-list": "see refuge person list and refuge place list",
    "redact-region-readd": "remove it (refuge redact remove) and add it again",
    "redact-region-box": "draw it on the page's preview in refuge serve, or measure it again (refuge redact region --box)",
    "org-revoked": "an admin must make or import a new organisation key (refuge keys org generate|import)",
    "org-revocation-unreachable": "check the network and the certificate's OCSP or CRL address, and build again",
    "tsa-unreachable": "check it, or clear it with refuge keys org tsa --none",
    "verify-trust-pem": "give the PEM file from refuge keys org cert with --trust",
    "verify-trust": "pass the sender's certificate with --trust FILE (senders hand it out with "
                    "refuge keys org cert -o FILE)",
    "verify-trust-chain": "give the certificate it chains to with --trust",
    "verify-password": "give it with --password-file",
    "verify-trust-tsa": "add its root with --trust",
    "verify-manifest": "give the file refuge packet build --manifest-out wrote",
    # people, cases, documents
    "init": "create one with refuge init, or set REFUGE_VAULT",
    "user-list": "see refuge user list",
    "user-add": "ask an admin to run refuge user add",
    "role": "someone who holds it must do it (refuge user list shows each person's role)",
    "case-list": "see refuge case list",
    "case-id": "use the case id from refuge case list",
    "case-id-admin": "admins give the case id (see refuge retention due, or the case column of refuge audit log)",
    "case-id-auditor": "auditors give the case id (see refuge retention due, or the case column of refuge audit log)",
    "case-grant": "ask one of its case leads to run refuge case grant",
    "case-reopen": "a case lead reopens it with refuge case reopen",
    "case-close": "a case lead closes it first (refuge case close)",
    "case-purge": "run refuge case purge with the case id again",
    "hold-release": "release the hold first (refuge case hold --release)",
    "hold-reason": "give it with --reason",
    "retention-due": "see refuge retention due",
    "fsck": "run refuge fsck",
    "no-escrow": "recover through a member's case key (refuge case export-key); --kms-key at refuge init turns escrow on",
    "doc-list": "see refuge doc list REF",
    "translation-of": "give --translation-of DOC, a document of this case (see refuge doc list REF)",
    "supersedes": "give --supersedes DOC, a document of this case (see refuge doc list REF)",
    "supersedes-one": "--supersedes takes exactly one file",
    "consent-doc": "give --doc with documents of this case (see refuge doc list REF)",
    "review-page": "give each page as --page N",
    "tag-change": "give --add TAG or --remove TAG",
    "packet-history": "see refuge packet history REF",
    "case-set-field": "a case lead sets it with refuge case set REF FIELD=VALUE (see refuge case show REF)",
    "served": "give --served-on PARTY --served-by METHOD --served-at YYYY-MM-DD",
    "org-set-name": "an admin sets it with refuge org set name=ORG, or give --from ORG",
    "org-name-mismatch": "an admin sets the name to the certificate's (refuge org set name=ORG; refuge keys org cert "
                         "shows it), or makes a key for the name (refuge keys org generate --name ORG for a pilot) "
                         "or imports a certificate issued to it (refuge keys org import)",
    # a document's life (doc remove, edit, move; duplicates; ids people type)
    "doc-list-removed": "case leads see it with refuge doc list REF --removed",
    "doc-prefix": "type more of the id (see refuge doc list REF)",
    "allow-duplicate": "add it anyway with --allow-duplicate",
    "doc-type": "see refuge doc add --help",
    "edit-change": "give --title, --type, --person, --lang, --date, --tag or --untag",
    "remove-reason": "give it with --reason (kept in the case's encrypted events only)",
    "doc-move": "run refuge doc move DOC --to REF again",
    "redact-list": "see refuge redact list REF",
    # storage
    "lock-mode": "give --lock-mode GOVERNANCE or COMPLIANCE",
    "lock-days": "give --lock-days N with --lock-mode",
    "lock-days-s3": "--lock-days needs an s3:// vault location",
    "lock-bucket": "create the bucket with it (aws s3api create-bucket --object-lock-enabled-for-bucket) "
                   "or leave out --lock-days",
    "s3-endpoint": "check --endpoint-url (or REFUGE_S3_ENDPOINT_URL) and that the service is running",
    "s3-network": "check the network, or give --endpoint-url for an S3-compatible service",
    "s3-region": "give --region with the bucket's region (refuge remembers it) or set REFUGE_S3_REGION",
    "s3-region-unknown": "give --region REGION or set REFUGE_S3_REGION",
    # KMS
    "kms-key": "give --kms-key a KMS key id, ARN or alias (alias/NAME)",
    "kms-key-region": "check --kms-key and --region",
    "kms-key-check": "check --kms-key",
    "kms-region": "give --region, set AWS_REGION, or use the key's ARN",
    # the organisation key
    "org-generate": "an admin runs refuge keys org generate or import",
    "org-rewrap": "an admin runs refuge keys org rewrap",
    "org-rewrap-holder": "an admin who holds it runs refuge keys org rewrap",
    "org-days": "give --days between 1 and 3650",
    "org-cert": "give the organisation's certificate (--cert, or inside the .p12)",
    "passphrase-file": "give its passphrase with --passphrase-file",
    "key-passphrase": "give its passphrase with --passphrase-file",
    "identity-remake": "make it again with refuge user keygen",
    "identity-make": "make one with refuge user keygen NAME",
    "identity-owner-remake": "ask its owner to run refuge user keygen again",
    "identity-see-keygen": "see refuge user keygen",
    "agent-folder": "set XDG_RUNTIME_DIR to a folder only you can open; commands still work with your passphrase",
    "home-private": "if the folder is yours and nobody changed it, chmod 700 it; otherwise set REFUGE_HOME to a folder "
                    "only you can open and restore your identities there",
    "force": "give --force to replace it",
    "new-copy": "ask for a new copy, or print it to PDF again",
    # office documents, messages, recordings (vault/renditions.py)
    "office-convert": "open it in its application and save it again, or print it to PDF and add that",
    "office-markup": "accept or remove the comments and tracked changes and add it with refuge doc add --supersedes, "
                     "or use a profile with office_markup = \"show\"",
    "install-libreoffice": "install LibreOffice (see the README's install lines)",
    "media-dir": "give --media-dir DIR to write the recordings beside the packet",
}
