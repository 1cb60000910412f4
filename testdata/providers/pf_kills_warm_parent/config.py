from pydantic import BaseModel


class Config(BaseModel):
    url: str = "http://localhost:1"
