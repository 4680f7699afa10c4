"""Operations functions: service health, trading heartbeats, CloudFormation drift (spec 7)."""
