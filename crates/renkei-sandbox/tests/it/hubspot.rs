//! HubSpot emulator tests.
