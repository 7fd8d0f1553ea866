"""Pure status derivation: observed children -> phase, conditions, times, events."""
