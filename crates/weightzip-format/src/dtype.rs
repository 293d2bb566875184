//! Element types of safetensors tensors.
//!
//! The list and the spelling of the names follow the `Dtype` enum of the
//! reference `safetensors` crate (including the OCP microscaling formats
//! `F8_E8M0`, `F4`, `F6_E2M3`, `F6_E3M2` and the complex `C64`).

use std::fmt;

/// Element type of a safetensors tensor.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Dtype {
    /// Boolean, one byte per element.
    Bool,
    /// 4-bit float E2M1 (two elements per byte).
    F4,
    /// 6-bit float E2M3.
    F6E2M3,
    /// 6-bit float E3M2.
    F6E3M2,
    /// Unsigned 8-bit integer.
    U8,
    /// Signed 8-bit integer.
    I8,
    /// 8-bit float E5M2.
    F8E5M2,
    /// 8-bit float E4M3.
    F8E4M3,
    /// 8-bit exponent-only scale E8M0 (OCP microscaling).
    F8E8M0,
    /// Signed 16-bit integer.
    I16,
    /// Unsigned 16-bit integer.
    U16,
    /// IEEE half precision.
    F16,
    /// Brain float 16.
    BF16,
    /// Signed 32-bit integer.
    I32,
    /// Unsigned 32-bit integer.
    U32,
    /// IEEE single precision.
    F32,
    /// Complex number with two f32 parts.
    C64,
    /// IEEE double precision.
    F64,
    /// Signed 64-bit integer.
    I64,
    /// Unsigned 64-bit integer.
    U64,
}

impl Dtype {
    /// Every dtype, in the reference crate's order.
    pub const ALL: [Dtype; 20] = [
        Dtype::Bool,
        Dtype::F4,
        Dtype::F6E2M3,
        Dtype::F6E3M2,
        Dtype::U8,
        Dtype::I8,
        Dtype::F8E5M2,
        Dtype::F8E4M3,
        Dtype::F8E8M0,
        Dtype::I16,
        Dtype::U16,
        Dtype::F16,
        Dtype::BF16,
        Dtype::I32,
        Dtype::U32,
        Dtype::F32,
        Dtype::C64,
        Dtype::F64,
        Dtype::I64,
        Dtype::U64,
    ];

    /// Parses the name used in safetensors headers (`"BF16"`, `"F8_E4M3"`, ...).
    /// Returns `None` for unknown names. Matching is exact (case-sensitive),
    /// like the reference implementation.
    // An inherent `from_str` returning `Option` is the API other crates code
    // against; a `FromStr` impl would force a trait import and an error type.
    #[allow(clippy::should_implement_trait)]
    pub fn from_str(name: &str) -> Option<Dtype> {
        Dtype::ALL.into_iter().find(|d| d.name() == name)
    }

    /// The name used in safetensors headers.
    pub fn name(self) -> &'static str {
        match self {
            Dtype::Bool => "BOOL",
            Dtype::F4 => "F4",
            Dtype::F6E2M3 => "F6_E2M3",
            Dtype::F6E3M2 => "F6_E3M2",
            Dtype::U8 => "U8",
            Dtype::I8 => "I8",
            Dtype::F8E5M2 => "F8_E5M2",
            Dtype::F8E4M3 => "F8_E4M3",
            Dtype::F8E8M0 => "F8_E8M0",
            Dtype::I16 => "I16",
            Dtype::U16 => "U16",
            Dtype::F16 => "F16",
            Dtype::BF16 => "BF16",
            Dtype::I32 => "I32",
            Dtype::U32 => "U32",
            Dtype::F32 => "F32",
            Dtype::C64 => "C64",
            Dtype::F64 => "F64",
            Dtype::I64 => "I64",
            Dtype::U64 => "U64",
        }
    }

    /// Bits per element.
    pub fn bits(self) -> u32 {
        match self {
            Dtype::F4 => 4,
            Dtype::F6E2M3 | Dtype::F6E3M2 => 6,
            Dtype::Bool | Dtype::U8 | Dtype::I8 | Dtype::F8E5M2 | Dtype::F8E4M3 | Dtype::F8E8M0 => {
                8
            }
            Dtype::I16 | Dtype::U16 | Dtype::F16 | Dtype::BF16 => 16,
            Dtype::I32 | Dtype::U32 | Dtype::F32 => 32,
            Dtype::C64 | Dtype::F64 | Dtype::I64 | Dtype::U64 => 64,
        }
    }

    /// Bytes per element, or `None` for the sub-byte types (`F4`, `F6_*`);
    /// use [`Dtype::bits`] for those.
    pub fn size_bytes(self) -> Option<usize> {
        let bits = self.bits();
        if bits.is_multiple_of(8) {
            Some((bits / 8) as usize)
        } else {
            None
        }
    }

    /// Whether the elements are floating point (including bf16, the fp8/fp6/fp4
    /// variants, the E8M0 scale type and complex numbers).
    pub fn is_float(self) -> bool {
        !matches!(
            self,
            Dtype::Bool
                | Dtype::U8
                | Dtype::I8
                | Dtype::I16
                | Dtype::U16
                | Dtype::I32
                | Dtype::U32
                | Dtype::I64
                | Dtype::U64
        )
    }

    /// Byte size of `n_elements` elements, or `None` on overflow or when the
    /// bit count is not a whole number of bytes (sub-byte dtypes).
    pub fn bytes_for(self, n_elements: u64) -> Option<u64> {
        let bits = n_elements.checked_mul(u64::from(self.bits()))?;
        if bits % 8 == 0 {
            Some(bits / 8)
        } else {
            None
        }
    }
}

impl fmt::Display for Dtype {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for d in Dtype::ALL {
            assert_eq!(Dtype::from_str(d.name()), Some(d));
        }
        assert_eq!(Dtype::from_str("bf16"), None);
        assert_eq!(Dtype::from_str(""), None);
        assert_eq!(Dtype::from_str("F8_E4M3"), Some(Dtype::F8E4M3));
    }

    #[test]
    fn sizes() {
        assert_eq!(Dtype::BF16.size_bytes(), Some(2));
        assert_eq!(Dtype::F32.size_bytes(), Some(4));
        assert_eq!(Dtype::C64.size_bytes(), Some(8));
        assert_eq!(Dtype::Bool.size_bytes(), Some(1));
        assert_eq!(Dtype::F4.size_bytes(), None);
        assert_eq!(Dtype::F6E2M3.bits(), 6);
        assert_eq!(Dtype::F4.bytes_for(3), None);
        assert_eq!(Dtype::F4.bytes_for(4), Some(2));
        assert_eq!(Dtype::F6E3M2.bytes_for(4), Some(3));
        assert_eq!(Dtype::U64.bytes_for(u64::MAX), None);
    }

    #[test]
    fn float_classification() {
        assert!(Dtype::BF16.is_float());
        assert!(Dtype::F8E8M0.is_float());
        assert!(!Dtype::I64.is_float());
        assert!(!Dtype::Bool.is_float());
    }
}
