"""`sftjob`: a command line for SFTJob users (convert TRL recipes into SFTJob manifests)."""
