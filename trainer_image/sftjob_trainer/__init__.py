"""SFTJob trainer image: TRL SFT under accelerate, with resume, progress and clean exit."""
