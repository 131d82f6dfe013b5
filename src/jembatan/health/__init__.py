"""Cross-border health surveillance: weekly case counts in (FHIR R4 or CSV), stored as
time series with provenance, shared under agreement, outbreak detection and signals."""
