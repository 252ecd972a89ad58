//! Field encodings of the course protocol: little-endian integers and floats, u16 length
//! prefixes, and strings in UTF-16LE (the course's `Encoding.Unicode`) or UTF-8.
//!
//! [`Writer`] fills a slice whose size was computed beforehand; [`Reader`] walks a received
//! body and checks every length against what is left, so a hostile length can neither panic
//! nor read past the frame.

use crate::error::DecodeError;

/// Writes fields into a slice sized exactly for them.
///
/// Writing past the end is a bug in the caller's size computation and panics; the size of
/// everything written comes from local data, never from a peer.
pub struct Writer<'a> {
    buf: &'a mut [u8],
    pos: usize,
}

macro_rules! put_le {
    ($($name:ident: $ty:ty),* $(,)?) => {$(
        #[doc = concat!("Writes a little-endian `", stringify!($ty), "`.")]
        #[inline]
        pub fn $name(&mut self, value: $ty) {
            self.put_slice(&value.to_le_bytes());
        }
    )*};
}

impl<'a> Writer<'a> {
    /// A writer at the start of `buf`.
    pub fn new(buf: &'a mut [u8]) -> Self {
        Writer { buf, pos: 0 }
    }

    /// Bytes of room left.
    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    /// Bytes written so far.
    pub fn position(&self) -> usize {
        self.pos
    }

    /// Copies raw bytes.
    #[inline]
    pub fn put_slice(&mut self, bytes: &[u8]) {
        let end = self.pos + bytes.len();
        self.buf[self.pos..end].copy_from_slice(bytes);
        self.pos = end;
    }

    /// Writes a bool as 0 or 1.
    #[inline]
    pub fn put_bool(&mut self, value: bool) {
        self.put_u8(u8::from(value));
    }

    put_le!(
        put_u8: u8, put_i8: i8, put_u16: u16, put_i16: i16, put_u32: u32, put_i32: i32,
        put_u64: u64, put_i64: i64, put_f32: f32, put_f64: f64,
    );

    /// Writes a u16 length or count prefix. The caller checked it fits (see
    /// [`Packet::body_len`](crate::Packet::body_len)).
    #[inline]
    pub fn put_len(&mut self, len: usize) {
        debug_assert!(len <= u16::MAX as usize);
        self.put_u16(len as u16);
    }

    /// Writes a u16 byte length, then the bytes.
    pub fn put_bytes(&mut self, bytes: &[u8]) {
        self.put_len(bytes.len());
        self.put_slice(bytes);
    }

    /// Writes a u16 byte length, then the string as UTF-8.
    pub fn put_str_utf8(&mut self, s: &str) {
        self.put_bytes(s.as_bytes());
    }

    /// Writes a u16 byte length (2 x UTF-16 code units), then the string as UTF-16LE.
    pub fn put_str_utf16(&mut self, s: &str) {
        self.put_len(utf16_len(s));
        for unit in s.encode_utf16() {
            self.put_u16(unit);
        }
    }
}

/// Bytes `s` takes in UTF-16LE, without the length prefix.
pub fn utf16_len(s: &str) -> usize {
    s.encode_utf16().count() * 2
}

/// Reads fields from a received body, checking every length against what is left.
pub struct Reader<'a> {
    buf: &'a [u8],
}

macro_rules! get_le {
    ($($name:ident: $ty:ty),* $(,)?) => {$(
        #[doc = concat!("Reads a little-endian `", stringify!($ty), "`.")]
        #[inline]
        pub fn $name(&mut self) -> Result<$ty, DecodeError> {
            Ok(<$ty>::from_le_bytes(self.array()?))
        }
    )*};
}

impl<'a> Reader<'a> {
    /// A reader over `buf`.
    pub fn new(buf: &'a [u8]) -> Self {
        Reader { buf }
    }

    /// Bytes not yet read.
    pub fn remaining(&self) -> usize {
        self.buf.len()
    }

    /// Takes the next `n` bytes, or fails without consuming anything.
    #[inline]
    pub fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        if n > self.buf.len() {
            return Err(DecodeError::Truncated {
                needed: n,
                remaining: self.buf.len(),
            });
        }
        let (head, tail) = self.buf.split_at(n);
        self.buf = tail;
        Ok(head)
    }

    #[inline]
    fn array<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        let bytes = self.take(N)?;
        let mut out = [0u8; N];
        out.copy_from_slice(bytes);
        Ok(out)
    }

    /// Reads a bool: 0 is false, anything else true (as the course's `BitConverter`).
    #[inline]
    pub fn get_bool(&mut self) -> Result<bool, DecodeError> {
        Ok(self.get_u8()? != 0)
    }

    get_le!(
        get_u8: u8, get_i8: i8, get_u16: u16, get_i16: i16, get_u32: u32, get_i32: i32,
        get_u64: u64, get_i64: i64, get_f32: f32, get_f64: f64,
    );

    /// Reads a u16 list count. Each element takes at least `min_element_size` bytes, so a
    /// count that the rest of the frame cannot hold is refused before anything is allocated.
    pub fn get_count(&mut self, min_element_size: usize) -> Result<usize, DecodeError> {
        let count = usize::from(self.get_u16()?);
        let needed = count.saturating_mul(min_element_size);
        if needed > self.buf.len() {
            return Err(DecodeError::Truncated {
                needed,
                remaining: self.buf.len(),
            });
        }
        Ok(count)
    }

    /// Reads a u16 byte length, then that many bytes.
    pub fn get_bytes(&mut self) -> Result<&'a [u8], DecodeError> {
        let len = usize::from(self.get_u16()?);
        self.take(len)
    }

    /// Reads a u16 byte length, then a UTF-8 string.
    pub fn get_str_utf8(&mut self) -> Result<String, DecodeError> {
        let bytes = self.get_bytes()?;
        std::str::from_utf8(bytes)
            .map(str::to_owned)
            .map_err(|_| DecodeError::InvalidString { encoding: "utf-8" })
    }

    /// Reads a u16 byte length, then a UTF-16LE string. An odd length or an unpaired
    /// surrogate is an error.
    pub fn get_str_utf16(&mut self) -> Result<String, DecodeError> {
        let bytes = self.get_bytes()?;
        if bytes.len() % 2 != 0 {
            return Err(DecodeError::InvalidString {
                encoding: "utf-16le",
            });
        }
        let units = bytes
            .chunks_exact(2)
            .map(|pair| u16::from_le_bytes([pair[0], pair[1]]));
        char::decode_utf16(units)
            .collect::<Result<String, _>>()
            .map_err(|_| DecodeError::InvalidString {
                encoding: "utf-16le",
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utf16_matches_the_course_encoding() {
        // C#: Encoding.Unicode.GetBytes("hé") == [0x68, 0x00, 0xE9, 0x00]
        let mut buf = [0u8; 6];
        Writer::new(&mut buf).put_str_utf16("hé");
        assert_eq!(buf, [4, 0, 0x68, 0x00, 0xE9, 0x00]);
        assert_eq!(Reader::new(&buf).get_str_utf16().as_deref(), Ok("hé"));
    }

    #[test]
    fn lengths_past_the_frame_are_refused() {
        let buf = [10u8, 0, 1, 2];
        assert_eq!(
            Reader::new(&buf).get_bytes(),
            Err(DecodeError::Truncated {
                needed: 10,
                remaining: 2
            })
        );
        assert!(
            Reader::new(&[0xff, 0xff, 0]).get_count(1).is_err(),
            "count larger than the frame"
        );
    }

    #[test]
    fn bad_strings_are_refused() {
        assert!(
            Reader::new(&[1, 0, 0x41]).get_str_utf16().is_err(),
            "odd utf-16 length"
        );
        assert!(
            Reader::new(&[2, 0, 0x00, 0xD8]).get_str_utf16().is_err(),
            "lone surrogate"
        );
        assert!(
            Reader::new(&[1, 0, 0xff]).get_str_utf8().is_err(),
            "invalid utf-8"
        );
    }
}
