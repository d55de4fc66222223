"""Personal data on public surfaces: the wire contract's masks and ID number check, one definition for both sides."""

from devices.contract.privacy import (
    birth_date_of,
    id_check_char,
    mask_id,
    mask_name,
    mask_phone,
    validate_id_number,
)

__all__ = ["birth_date_of", "id_check_char", "mask_id", "mask_name", "mask_phone", "validate_id_number"]
