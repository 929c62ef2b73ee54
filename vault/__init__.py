"""refuge vault: encrypted-at-rest storage of a legal team's case documents."""
