//! The implementations of the coding loops and their run-time selection.

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::OnceLock;

/// An implementation of the coding loops. All produce identical bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kernel {
    /// Portable code, any CPU.
    Scalar,
    /// x86-64 with AVX2 (8 states per register).
    Avx2,
    /// x86-64 with AVX-512 F/BW/VL (16 states per register).
    Avx512,
}

/// Every kernel, slowest first.
pub const ALL_KERNELS: [Kernel; 3] = [Kernel::Scalar, Kernel::Avx2, Kernel::Avx512];

/// 0 = no preference set by [`Kernel::set_preferred`], else `kernel as u8 + 1`.
static PREFERRED: AtomicU8 = AtomicU8::new(0);

impl Kernel {
    /// The name used by `WEIGHTZIP_KERNEL` and in benchmark output.
    pub fn name(self) -> &'static str {
        match self {
            Kernel::Scalar => "scalar",
            Kernel::Avx2 => "avx2",
            Kernel::Avx512 => "avx512",
        }
    }

    /// The kernel called `name`.
    pub fn from_name(name: &str) -> Option<Kernel> {
        ALL_KERNELS.into_iter().find(|k| k.name() == name)
    }

    /// Whether this CPU can run the kernel.
    pub fn is_supported(self) -> bool {
        match self {
            Kernel::Scalar => true,
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx2 => {
                std::arch::is_x86_feature_detected!("avx2")
                    && std::arch::is_x86_feature_detected!("fma")
                    && std::arch::is_x86_feature_detected!("popcnt")
            }
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx512 => {
                Kernel::Avx2.is_supported()
                    && std::arch::is_x86_feature_detected!("avx512f")
                    && std::arch::is_x86_feature_detected!("avx512bw")
                    && std::arch::is_x86_feature_detected!("avx512vl")
            }
            #[cfg(not(target_arch = "x86_64"))]
            _ => false,
        }
    }

    /// The kernels this CPU runs, slowest first.
    pub fn supported() -> Vec<Kernel> {
        ALL_KERNELS
            .into_iter()
            .filter(|k| k.is_supported())
            .collect()
    }

    /// The kernel used by [`encode`](super::encode), [`decode`](super::decode) and the codecs: the one set
    /// by [`Kernel::set_preferred`], else the fastest supported one, capped
    /// by the environment variable `WEIGHTZIP_KERNEL` (`scalar`, `avx2`,
    /// `avx512`) when it is set.
    pub fn best() -> Kernel {
        match PREFERRED.load(Ordering::Relaxed) {
            0 => detected(),
            k => ALL_KERNELS[usize::from(k - 1)],
        }
    }

    /// Makes [`Kernel::best`] return `kernel` (if supported) for the whole
    /// process, or restores detection with `None`. For benchmarks.
    pub fn set_preferred(kernel: Option<Kernel>) {
        let v = match kernel {
            Some(k) if k.is_supported() => k as u8 + 1,
            _ => 0,
        };
        PREFERRED.store(v, Ordering::Relaxed);
    }

    /// This kernel if the CPU supports it, else the best supported one below it.
    pub(crate) fn or_supported(self) -> Kernel {
        let mut k = self;
        while !k.is_supported() {
            k = match k {
                Kernel::Avx512 => Kernel::Avx2,
                _ => Kernel::Scalar,
            };
        }
        k
    }
}

fn detected() -> Kernel {
    static DETECTED: OnceLock<Kernel> = OnceLock::new();
    *DETECTED.get_or_init(|| {
        let cap = std::env::var("WEIGHTZIP_KERNEL")
            .ok()
            .and_then(|v| Kernel::from_name(v.trim()))
            .unwrap_or(Kernel::Avx512);
        cap.or_supported()
    })
}
