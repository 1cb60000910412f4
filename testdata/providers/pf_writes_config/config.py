import os

from pydantic import BaseModel, field_validator


class Config(BaseModel):
    path: str

    @field_validator("path")
    @classmethod
    def made(cls, value):
        # A config validator that prepares a directory, as the server would let it.
        os.makedirs(value, exist_ok=True)
        return value
