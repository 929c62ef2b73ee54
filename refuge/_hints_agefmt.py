HINTS = {
    "identity-remake": "make it again with refuge user keygen",
    "identity-make": "make one with refuge user keygen NAME",
    "identity-owner-remake": "ask its owner to run refuge user keygen again",
    "identity-see-keygen": "see refuge user keygen",
}
