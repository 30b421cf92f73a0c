//! Exact money: amounts become `i128` minor units at a fixed decimal scale.
//!
//! A float is read as its shortest round-trip decimal (what Python's `repr` prints), then
//! rounded half to even to the scale: 2.675 → 268 at scale 2, 8.345 → 834.

/// Largest decimal scale an `i128` can hold meaningfully (38 digits).
pub const MAX_SCALE: u32 = 38;

pub fn pow10(exp: u32) -> i128 {
    10i128.pow(exp)
}

/// 10^38: money needing more digits does not fit a decimal128(38) result.
pub const LIMIT_38_DIGITS: u128 = 10u128.pow(38);

/// Whether `value` fits a decimal128(38): at most 38 digits.
#[inline]
pub fn fits_38_digits(value: i128) -> bool {
    value.unsigned_abs() < LIMIT_38_DIGITS
}

/// Extra decimal places of means (aov, monetary_value) beyond the money scale.
pub const MEAN_EXTRA_SCALE: u32 = 6;

/// `total / count` in minor units at `scale + MEAN_EXTRA_SCALE`, half to even; 0 when count = 0.
pub fn mean_minor(total: i128, count: u64) -> i128 {
    if count == 0 {
        return 0;
    }
    div_round_half_even(total * pow10(MEAN_EXTRA_SCALE), count as i128)
}

/// `num / den` as f64, `None` when `den` is 0 (rates and ratios of counts or money).
pub fn ratio(num: i128, den: i128) -> Option<f64> {
    (den != 0).then(|| num as f64 / den as f64)
}

/// `num / den` rounded half to even; `den > 0`.
pub fn div_round_half_even(num: i128, den: i128) -> i128 {
    let q = num.div_euclid(den);
    let r = num.rem_euclid(den);
    let twice = r * 2;
    if twice > den || (twice == den && q % 2 != 0) {
        q + 1
    } else {
        q
    }
}

/// Integer amount in major units.
#[inline]
pub fn from_int(value: i64, scale: u32) -> Option<i128> {
    (value as i128).checked_mul(pow10(scale))
}

/// Rescales an exact decimal `mantissa × 10^-from` to `to` places, half to even.
pub fn rescale(mantissa: i128, from: u32, to: u32) -> Option<i128> {
    if to >= from {
        mantissa.checked_mul(pow10(to - from))
    } else if from - to > MAX_SCALE {
        Some(0)
    } else {
        Some(div_round_half_even(mantissa, pow10(from - to)))
    }
}

/// A finite float → minor units at `scale`; `None` for NaN, ±inf or overflow.
#[inline]
pub fn from_f64(value: f64, scale: u32) -> Option<i128> {
    if !value.is_finite() {
        return None;
    }
    if let Some(fast) = fast_round(value, scale) {
        return Some(fast);
    }
    let mut buffer = ryu::Buffer::new();
    from_shortest_decimal(buffer.format_finite(value), scale)
}

/// As [`from_f64`], reading the float32's own shortest decimal.
#[inline]
pub fn from_f32(value: f32, scale: u32) -> Option<i128> {
    if !value.is_finite() {
        return None;
    }
    let mut buffer = ryu::Buffer::new();
    from_shortest_decimal(buffer.format_finite(value), scale)
}

/// `round(value × 10^scale)` when it provably equals the rounding of the shortest decimal:
/// the product is far (many ulps) from a half-way point, so the float's representation error
/// cannot change the result.
#[inline]
fn fast_round(value: f64, scale: u32) -> Option<i128> {
    const POW: [f64; 9] = [1.0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8];
    let factor = *POW.get(scale as usize)?;
    let scaled = value * factor;
    let magnitude = scaled.abs();
    if magnitude >= 1e12 {
        return None;
    }
    // An integer cast truncates exactly below 1e12, without a libm `trunc` call.
    let fraction = magnitude - (magnitude as i64) as f64;
    let margin = magnitude * 1e-14 + 1e-9;
    if (fraction - 0.5).abs() <= margin {
        return None;
    }
    // |scaled| < 1e12 and not a tie: adding ±0.5 and truncating rounds, with no libm call.
    Some((scaled + 0.5f64.copysign(scaled)) as i64 as i128)
}

/// Parses ryu's output ("2.675", "1e-7", "-1.25e21") and rounds it to `scale`.
fn from_shortest_decimal(text: &str, scale: u32) -> Option<i128> {
    let (body, exponent) = match text.find(['e', 'E']) {
        Some(pos) => (&text[..pos], text[pos + 1..].parse::<i32>().ok()?),
        None => (text, 0),
    };
    let (negative, digits) = match body.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, body),
    };
    let mut mantissa: i128 = 0;
    let mut fraction_digits = 0i32;
    let mut after_point = false;
    for byte in digits.bytes() {
        match byte {
            b'.' => after_point = true,
            b'0'..=b'9' => {
                mantissa = mantissa * 10 + (byte - b'0') as i128;
                fraction_digits += after_point as i32;
            }
            _ => return None,
        }
    }
    if negative {
        mantissa = -mantissa;
    }
    // value = mantissa × 10^(exponent − fraction_digits); want value × 10^scale.
    let shift = exponent - fraction_digits + scale as i32;
    if shift >= 0 {
        mantissa.checked_mul(10i128.checked_pow(shift as u32)?)
    } else {
        rescale(mantissa, (-shift) as u32, 0)
    }
}

/// Minor units → nearest f64 (exact inputs below 2^53 give the correctly rounded quotient).
#[inline]
pub fn to_f64(value: i128, scale: u32) -> f64 {
    value as f64 / 10f64.powi(scale as i32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn half_even_on_shortest_decimal() {
        assert_eq!(from_f64(2.675, 2), Some(268));
        assert_eq!(from_f64(8.345, 2), Some(834));
        assert_eq!(from_f64(0.125, 2), Some(12));
        assert_eq!(from_f64(0.375, 2), Some(38));
        assert_eq!(from_f64(-2.675, 2), Some(-268));
        assert_eq!(from_f64(-0.125, 2), Some(-12));
        assert_eq!(from_f64(1.005, 2), Some(100));
        assert_eq!(from_f64(0.1, 2), Some(10));
        assert_eq!(from_f64(1e-7, 2), Some(0));
        assert_eq!(from_f64(1.5e20, 2), Some(15_000_000_000_000_000_000_000));
        assert_eq!(from_f32(2.675f32, 2), Some(268));
        assert_eq!(from_f64(f64::NAN, 2), None);
        assert_eq!(from_f64(f64::INFINITY, 2), None);
        assert_eq!(from_f64(1e300, 2), None);
    }

    #[test]
    fn fast_path_agrees_with_decimal_path() {
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        for _ in 0..200_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let cents = (x % 10_000_000) as f64;
            let noise = ((x >> 40) % 1000) as f64 / 1000.0;
            for value in [cents / 100.0, cents / 1000.0, cents * noise, -cents / 200.0] {
                for scale in [0, 2, 4] {
                    let mut buffer = ryu::Buffer::new();
                    let slow = from_shortest_decimal(buffer.format_finite(value), scale);
                    assert_eq!(from_f64(value, scale), slow, "{value} at {scale}");
                }
            }
        }
    }

    #[test]
    fn rounding_helpers() {
        assert_eq!(div_round_half_even(5, 2), 2);
        assert_eq!(div_round_half_even(7, 2), 4);
        assert_eq!(div_round_half_even(-5, 2), -2);
        assert_eq!(div_round_half_even(-7, 2), -4);
        assert_eq!(rescale(12345, 3, 1), Some(123));
        assert_eq!(rescale(12350, 3, 1), Some(124));
        assert_eq!(rescale(5, 0, 2), Some(500));
        assert_eq!(from_int(7, 2), Some(700));
    }
}
