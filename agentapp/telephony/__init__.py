"""Event sources: each turns a softphone's or PBX's protocol into core CallEvents."""
