"""`sftjob`: a command line for SFTJob users (convert TRL recipes, validate and render SFTJobs)."""
