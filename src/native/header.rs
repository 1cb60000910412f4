//! Reads what the loader reads of a native file, and nothing more.
//!
//! A file is sniffed with one plain 64-byte read; an ELF file is then parsed
//! through `object`'s low-level API over a [`ReadCache`], touching only the
//! file header, the program headers, `PT_INTERP`, `PT_DYNAMIC`, the strings it
//! names and the `verneed` list. Section headers and symbol tables are never
//! read (the loader ignores them, and they are what makes files large), so a
//! 1 GB library costs a few kilobytes. Every read is bounded by the file's
//! real size and by what a header can need (the dynamic table up to its
//! `DT_NULL`, strings of at most 4 KiB), never by a size the file claims: a
//! sparse file whose dynamic segment claims 3 GiB costs what a normal one
//! does. Only regular files are opened, without blocking (a FIFO named like a
//! library must not stall the run). Reads go through a counter so the cost is
//! measurable, and through `read` rather than `mmap`, so a file truncated
//! while it is read cannot crash preflight.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::Path;

use object::elf::{self, FileHeader32, FileHeader64, Vernaux, Verneed};
use object::read::ReadRef;
use object::read::elf::{Dyn, FileHeader, ProgramHeader};
use object::{Endianness, ReadCache, macho, pe};

use crate::files::{self, ReadError};
use crate::native::platform::{Arch, ElfIdentity, Libc};

/// `e_ident` offsets of the class and byte-order bytes.
const EI_CLASS: usize = 4;
const EI_DATA: usize = 5;
/// Enough for an ELF64 header and any magic number worth knowing.
const SNIFF_BYTES: usize = 64;
/// Corrupt tables must not make the walk long.
const MAX_VERNEED_FILES: usize = 64;
const MAX_VERNAUX: usize = 512;
const MAX_NEEDED: usize = 256;
/// Dynamic entries read at most: real libraries have a few dozen before
/// their `DT_NULL`.
const MAX_DYNAMIC_ENTRIES: u64 = 1024;
/// The longest program loader path read (`PATH_MAX`).
const MAX_INTERPRETER_BYTES: u64 = 4096;

/// What a file turned out to be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Content {
    /// Not a regular file: a FIFO, a device, a socket or a directory.
    NotRegular(&'static str),
    /// Fewer bytes than the header of its format (or than any header).
    TooShort,
    /// Not a binary the loader could open; says what it is instead.
    NotBinary(&'static str),
    Elf(Box<ElfFacts>),
    /// Mach-O, with the CPU of each slice (fat files have several).
    MachO(Vec<Option<Arch>>),
    /// A PE image (`.pyd`, `.dll`) and its CPU.
    Pe(Option<Arch>),
}

/// The loader-relevant facts of an ELF file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct ElfFacts {
    pub(crate) identity: ElfIdentity,
    /// Why glibc would refuse the header itself, if it would.
    pub(crate) header_problem: Option<String>,
    /// `ET_EXEC`, or `ET_DYN` marked `DF_1_PIE`: a program, not a library.
    pub(crate) executable: bool,
    /// Bytes the `PT_LOAD` segments (or the program header table) need, when
    /// that is more than the file has.
    pub(crate) truncated_at: Option<u64>,
    /// `PT_INTERP`: the program loader (set for executables only).
    pub(crate) interpreter: Option<String>,
    /// `DT_NEEDED` entries.
    pub(crate) needed: Vec<String>,
    /// The directories of `DT_RPATH` and `DT_RUNPATH`, unexpanded (`$ORIGIN`).
    pub(crate) search_path: Vec<String>,
    /// The highest non-weak `GLIBC_x.y` version required from glibc's libraries.
    pub(crate) glibc_required: Option<(u32, u32)>,
}

impl ElfFacts {
    /// The C library the file was linked against, from its `DT_NEEDED`
    /// entries or its program loader.
    pub(crate) fn libc(&self) -> Option<Libc> {
        let names = self.needed.iter().chain(self.interpreter.iter());
        let mut found = None;
        for name in names {
            let base = name.rsplit('/').next().unwrap_or(name);
            // maturin's musl builds need plain libc.so; glibc's is libc.so.6.
            if base.starts_with("libc.musl-") || base.starts_with("ld-musl-") || base == "libc.so" {
                return Some(Libc::Musl);
            }
            if base == "libc.so.6" || base.starts_with("ld-linux") || base.starts_with("ld64.so") {
                found = Some(Libc::Glibc(None));
            }
        }
        found
    }
}

/// A file's content, its size and what reading it cost.
#[derive(Debug)]
pub(crate) struct Inspection {
    pub(crate) content: Content,
    pub(crate) size: u64,
    pub(crate) bytes_read: u64,
}

/// Counts the bytes that really come off the disk.
struct Counted {
    file: File,
    bytes: u64,
}

impl Read for Counted {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let read = self.file.read(buf)?;
        self.bytes += read as u64;
        Ok(read)
    }
}

impl Seek for Counted {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        self.file.seek(pos)
    }
}

/// Reads the headers of `path`. Only opening and reading can fail; anything
/// the file contains, or is instead of a regular file, is a [`Content`].
pub(crate) fn inspect(path: &Path) -> io::Result<Inspection> {
    let special = |kind| {
        Ok(Inspection {
            content: Content::NotRegular(kind),
            size: 0,
            bytes_read: 0,
        })
    };
    let file = match files::open_regular(path) {
        Ok(file) => file,
        Err(ReadError::NotRegular(kind)) => return special(kind),
        Err(ReadError::Directory) => return special("a directory"),
        Err(ReadError::NotFound) => return Err(io::ErrorKind::NotFound.into()),
        Err(ReadError::Io(err)) => return Err(err),
        Err(ReadError::TooLarge) => unreachable!("opening reads nothing"),
    };
    let size = file.metadata()?.len();
    let mut counted = Counted { file, bytes: 0 };
    let mut head = [0u8; SNIFF_BYTES];
    let mut filled = 0;
    while filled < head.len() {
        match counted.read(&mut head[filled..])? {
            0 => break,
            read => filled += read,
        }
    }
    let head = &head[..filled];
    let content = if head.starts_with(&elf::ELFMAG) {
        elf_content(head, counted.file.try_clone()?, size, &mut counted.bytes)
    } else if let Some(content) = macho_content(head) {
        content
    } else if head.starts_with(b"MZ") {
        pe_content(head, &mut counted)
    } else if head.len() < 4 {
        Content::TooShort
    } else {
        Content::NotBinary(describe_non_binary(head))
    };
    Ok(Inspection {
        content,
        size,
        bytes_read: counted.bytes,
    })
}

/// What a file that should be a shared library is instead.
fn describe_non_binary(head: &[u8]) -> &'static str {
    if head.starts_with(b"version https://git-lfs") {
        "a Git LFS pointer, not the binary (the repository was cloned without git lfs)"
    } else if head.starts_with(b"/* GNU ld script") || head.starts_with(b"INPUT(") {
        "a linker script, not a shared library"
    } else if head.starts_with(b"<") {
        "an HTML or XML document, not a shared library (a failed download?)"
    } else if head
        .iter()
        .all(|b| b.is_ascii_graphic() || b.is_ascii_whitespace())
    {
        "a text file, not a shared library"
    } else {
        "not an ELF file"
    }
}

fn elf_content(head: &[u8], file: File, size: u64, bytes: &mut u64) -> Content {
    let class = head.get(EI_CLASS).copied().unwrap_or(0);
    let header_len = if class == elf::ELFCLASS64.0 { 64 } else { 52 };
    if head.len() < header_len {
        return Content::TooShort;
    }
    let data = head[EI_DATA];
    let machine = if data == elf::ELFDATA2MSB.0 {
        u16::from_be_bytes([head[18], head[19]])
    } else {
        u16::from_le_bytes([head[18], head[19]])
    };
    let identity = ElfIdentity {
        class,
        data,
        machine,
    };
    let cache = ReadCache::new(Counted { file, bytes: 0 });
    let facts = if class == elf::ELFCLASS64.0 {
        elf_facts::<FileHeader64<Endianness>>(&cache, identity, size)
    } else {
        elf_facts::<FileHeader32<Endianness>>(&cache, identity, size)
    };
    *bytes += cache.into_inner().bytes;
    Content::Elf(Box::new(facts))
}

/// Why glibc's `open_verify` would reject this header, in its words.
fn header_problem<Elf: FileHeader<Endian = Endianness>>(
    header: &Elf,
    endian: Endianness,
) -> Option<String> {
    let ident = header.e_ident();
    if ident.version.0 != elf::EV_CURRENT.0
        || header.e_version(endian) != u32::from(elf::EV_CURRENT.0)
    {
        return Some("ELF file version does not match current one".to_string());
    }
    if ident.os_abi != elf::ELFOSABI_SYSV && ident.os_abi != elf::ELFOSABI_GNU {
        return Some(format!("ELF file OS ABI invalid ({})", ident.os_abi.0));
    }
    if ident.padding.iter().any(|&b| b != 0) {
        return Some("nonzero padding in e_ident".to_string());
    }
    let file_type = header.e_type(endian);
    if file_type != elf::ET_DYN && file_type != elf::ET_EXEC {
        return Some("only ET_DYN and ET_EXEC can be loaded".to_string());
    }
    if usize::from(header.e_phentsize(endian)) != size_of::<Elf::ProgramHeader>() {
        return Some("ELF file's phentsize not the expected size".to_string());
    }
    None
}

fn elf_facts<Elf: FileHeader<Endian = Endianness>>(
    cache: &ReadCache<Counted>,
    identity: ElfIdentity,
    size: u64,
) -> ElfFacts {
    let mut facts = ElfFacts {
        identity,
        ..ElfFacts::default()
    };
    let Ok(header) = Elf::parse(cache) else {
        facts.header_problem = Some("invalid ELF header".to_string());
        return facts;
    };
    let Ok(endian) = header.endian() else {
        facts.header_problem = Some("ELF file data encoding invalid".to_string());
        return facts;
    };
    facts.header_problem = header_problem(header, endian);
    facts.executable = header.e_type(endian) == elf::ET_EXEC;
    if facts.header_problem.is_some() {
        return facts;
    }
    let table_end = header.e_phoff(endian).into()
        + u64::from(header.e_phnum(endian)) * u64::from(header.e_phentsize(endian));
    if table_end > size {
        facts.truncated_at = Some(table_end);
        return facts;
    }
    let Ok(segments) = header.program_headers(endian, cache) else {
        facts.header_problem = Some("program headers cannot be read".to_string());
        return facts;
    };
    let loads: Vec<&Elf::ProgramHeader> = segments
        .iter()
        .filter(|segment| segment.p_type(endian) == elf::PT_LOAD)
        .collect();
    let loads_end = loads
        .iter()
        .map(|segment| segment.p_offset(endian).into() + segment.p_filesz(endian).into())
        .max()
        .unwrap_or(0);
    if loads_end > size {
        facts.truncated_at = Some(loads_end);
        return facts;
    }
    for segment in segments {
        match segment.p_type(endian) {
            elf::PT_INTERP => {
                let bytes = bounded(segment, endian, size, MAX_INTERPRETER_BYTES)
                    .and_then(|(offset, len)| cache.read_bytes_at(offset, len).ok());
                if let Some(bytes) = bytes {
                    let path = bytes.split(|&b| b == 0).next().unwrap_or_default();
                    facts.interpreter = Some(String::from_utf8_lossy(path).into_owned());
                }
            }
            elf::PT_DYNAMIC => {
                let entry_size = size_of::<Elf::Dyn>() as u64;
                let entries = bounded(segment, endian, size, MAX_DYNAMIC_ENTRIES * entry_size)
                    .and_then(|(offset, len)| {
                        let count = usize::try_from(len / entry_size).ok()?;
                        cache.read_slice_at::<Elf::Dyn>(offset, count).ok()
                    });
                if let Some(entries) = entries {
                    // The loader reads the table up to its first DT_NULL.
                    let end = entries
                        .iter()
                        .position(|entry| entry.tag(endian) == elf::DT_NULL)
                        .unwrap_or(entries.len());
                    read_dynamic::<Elf>(&mut facts, &entries[..end], &loads, endian, cache, size);
                }
            }
            _ => {}
        }
    }
    facts
}

/// Where a segment's bytes are in the file and how many of them to read: at
/// most `cap`, and never past the end of the file (`size`).
fn bounded<P: ProgramHeader<Endian = Endianness>>(
    segment: &P,
    endian: Endianness,
    size: u64,
    cap: u64,
) -> Option<(u64, u64)> {
    let offset = segment.p_offset(endian).into();
    let len = segment
        .p_filesz(endian)
        .into()
        .min(cap)
        .min(size.checked_sub(offset)?);
    Some((offset, len))
}

/// A virtual address's file offset, through the `PT_LOAD` that maps it.
fn file_offset<P: ProgramHeader<Endian = Endianness>>(
    loads: &[&P],
    endian: Endianness,
    address: u64,
) -> Option<u64> {
    loads.iter().find_map(|segment| {
        let start = segment.p_vaddr(endian).into();
        let end = start + segment.p_filesz(endian).into();
        (start..end)
            .contains(&address)
            .then(|| address - start + segment.p_offset(endian).into())
    })
}

fn read_dynamic<Elf: FileHeader<Endian = Endianness>>(
    facts: &mut ElfFacts,
    entries: &[Elf::Dyn],
    loads: &[&Elf::ProgramHeader],
    endian: Endianness,
    cache: &ReadCache<Counted>,
    size: u64,
) {
    let value = |tag: elf::DynamicTag| {
        entries
            .iter()
            .find(|entry| entry.tag(endian) == tag)
            .map(|entry| entry.val(endian))
    };
    if value(elf::DT_FLAGS_1).is_some_and(|flags| flags & elf::DF_1_PIE.0 != 0) {
        facts.executable = true;
    }
    let Some(strtab) = value(elf::DT_STRTAB).and_then(|va| file_offset(loads, endian, va)) else {
        return;
    };
    let strings_end = strtab
        .saturating_add(value(elf::DT_STRSZ).unwrap_or(0))
        .min(size);
    let string = |offset: u64| -> Option<String> {
        let bytes = cache
            .read_bytes_at_until(strtab.checked_add(offset)?..strings_end, 0)
            .ok()?;
        Some(String::from_utf8_lossy(bytes).into_owned())
    };
    // The string values of the entries tagged `tags`, in file order.
    let strings = |tags: &[elf::DynamicTag]| {
        entries
            .iter()
            .filter(|entry| tags.contains(&entry.tag(endian)))
            .take(MAX_NEEDED)
            .filter_map(|entry| string(entry.val(endian)))
            .collect::<Vec<_>>()
    };
    facts.needed = strings(&[elf::DT_NEEDED]);
    facts.search_path = strings(&[elf::DT_RPATH, elf::DT_RUNPATH])
        .iter()
        .flat_map(|paths| paths.split(':'))
        .filter(|dir| !dir.is_empty())
        .map(str::to_string)
        .collect();
    let verneed = value(elf::DT_VERNEED).and_then(|va| file_offset(loads, endian, va));
    let count = value(elf::DT_VERNEEDNUM).unwrap_or(0);
    if let Some(offset) = verneed {
        facts.glibc_required = glibc_required(cache, endian, offset, count, &string);
    }
}

/// Walks `verneed` and returns the highest `GLIBC_x.y` a glibc library must
/// define for this file to load (weak references excepted).
fn glibc_required(
    cache: &ReadCache<Counted>,
    endian: Endianness,
    mut offset: u64,
    count: u64,
    string: &dyn Fn(u64) -> Option<String>,
) -> Option<(u32, u32)> {
    let mut highest = None;
    let mut auxiliaries = 0;
    for _ in 0..count.min(MAX_VERNEED_FILES as u64) {
        let need: &Verneed<Endianness> = cache.read_at(offset).ok()?;
        let from_glibc = string(u64::from(need.vn_file.get(endian))).is_some_and(|file| {
            [
                "libc.so",
                "libm.so",
                "libpthread.so",
                "libdl.so",
                "librt.so",
                "ld-linux",
            ]
            .iter()
            .any(|prefix| file.starts_with(prefix))
        });
        let mut aux_offset = offset + u64::from(need.vn_aux.get(endian));
        for _ in 0..need.vn_cnt.get(endian) {
            auxiliaries += 1;
            if auxiliaries > MAX_VERNAUX {
                return highest;
            }
            let aux: &Vernaux<Endianness> = cache.read_at(aux_offset).ok()?;
            let weak = aux.vna_flags.get(endian).0 & elf::VER_FLG_WEAK.0 != 0;
            if from_glibc && !weak {
                let version = string(u64::from(aux.vna_name.get(endian)))
                    .and_then(|name| parse_glibc_version(&name));
                highest = highest.max(version);
            }
            match aux.vna_next.get(endian) {
                0 => break,
                next => aux_offset += u64::from(next),
            }
        }
        match need.vn_next.get(endian) {
            0 => break,
            next => offset += u64::from(next),
        }
    }
    highest
}

/// `GLIBC_2.34` → (2, 34); `GLIBC_PRIVATE` and others → `None`.
pub(crate) fn parse_glibc_version(name: &str) -> Option<(u32, u32)> {
    let version = name.strip_prefix("GLIBC_")?;
    let mut parts = version.split('.');
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next().unwrap_or("0").parse().ok()?;
    Some((major, minor))
}

/// Mach-O thin (`MH_MAGIC`/`MH_MAGIC_64`, either byte order) or fat files.
fn macho_content(head: &[u8]) -> Option<Content> {
    let word = |at: usize, big: bool| -> Option<u32> {
        let bytes: [u8; 4] = head.get(at..at + 4)?.try_into().ok()?;
        Some(if big {
            u32::from_be_bytes(bytes)
        } else {
            u32::from_le_bytes(bytes)
        })
    };
    let magic_le = word(0, false)?;
    let magic_be = word(0, true)?;
    for (magic, big) in [(magic_le, false), (magic_be, true)] {
        if magic == macho::MH_MAGIC || magic == macho::MH_MAGIC_64 {
            return Some(Content::MachO(vec![word(4, big).and_then(macho_arch)]));
        }
    }
    if magic_be == macho::FAT_MAGIC || magic_be == macho::FAT_MAGIC_64 {
        // Java class files share 0xCAFEBABE; their "count" is a version (≥ 45).
        let count = word(4, true)?;
        if count == 0 || count >= 45 {
            return None;
        }
        let entry = if magic_be == macho::FAT_MAGIC_64 {
            32
        } else {
            20
        };
        let arches = (0..count as usize)
            .map(|index| word(8 + index * entry, true).and_then(macho_arch))
            .collect();
        return Some(Content::MachO(arches));
    }
    None
}

fn macho_arch(cputype: u32) -> Option<Arch> {
    match macho::CpuType(cputype) {
        macho::CPU_TYPE_X86_64 => Some(Arch::X86_64),
        macho::CPU_TYPE_ARM64 => Some(Arch::Aarch64),
        macho::CPU_TYPE_X86 => Some(Arch::I386),
        _ => None,
    }
}

/// A PE image: the DOS header points at the `PE\0\0` signature and machine.
fn pe_content(head: &[u8], counted: &mut Counted) -> Content {
    let Some(offset) = head
        .get(0x3c..0x40)
        .and_then(|bytes| bytes.try_into().ok())
        .map(u32::from_le_bytes)
    else {
        return Content::TooShort;
    };
    let mut signature = [0u8; 6];
    let read = counted
        .seek(SeekFrom::Start(u64::from(offset)))
        .and_then(|_| counted.read_exact(&mut signature));
    if read.is_err()
        || u32::from_le_bytes([signature[0], signature[1], signature[2], signature[3]])
            != pe::IMAGE_NT_SIGNATURE
    {
        return Content::NotBinary("an MS-DOS executable, not a shared library");
    }
    let arch = match pe::Machine(u16::from_le_bytes([signature[4], signature[5]])) {
        pe::IMAGE_FILE_MACHINE_AMD64 => Some(Arch::X86_64),
        pe::IMAGE_FILE_MACHINE_ARM64 => Some(Arch::Aarch64),
        pe::IMAGE_FILE_MACHINE_I386 => Some(Arch::I386),
        _ => None,
    };
    Content::Pe(arch)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glibc_versions_are_read_from_version_names() {
        assert_eq!(parse_glibc_version("GLIBC_2.34"), Some((2, 34)));
        assert_eq!(parse_glibc_version("GLIBC_2.2.5"), Some((2, 2)));
        assert_eq!(parse_glibc_version("GLIBC_PRIVATE"), None);
        assert_eq!(parse_glibc_version("GLIBCXX_3.4.30"), None);
    }

    #[test]
    fn non_binaries_say_what_they_are() {
        assert!(
            describe_non_binary(b"version https://git-lfs.github.com/spec/v1").contains("Git LFS")
        );
        assert!(describe_non_binary(b"/* GNU ld script\n").contains("linker script"));
        assert_eq!(describe_non_binary(&[0, 1, 2, 3]), "not an ELF file");
    }

    #[test]
    fn java_classes_are_not_fat_mach_o() {
        let java = [0xca, 0xfe, 0xba, 0xbe, 0, 0, 0, 61];
        assert_eq!(macho_content(&java), None);
        let fat = [
            0xca, 0xfe, 0xba, 0xbe, 0, 0, 0, 1, 0x01, 0, 0, 0x0c, 0, 0, 0, 0,
        ];
        assert_eq!(
            macho_content(&fat),
            Some(Content::MachO(vec![Some(Arch::Aarch64)]))
        );
    }
}
