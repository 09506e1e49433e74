"""Speech engines behind one interface: each turns 16 kHz audio into typed transcript segments."""
