"""The probe runner: Identity Consistency Score (ICS-50) and extended suites."""
