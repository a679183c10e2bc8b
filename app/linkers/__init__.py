"""Community linkers: caseloads, assisted registration, brokering for people, notes and follow-ups."""
