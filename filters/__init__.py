"""Pure document functions: normalization, extraction, quality rules, dedup hashing. No Beam here."""
