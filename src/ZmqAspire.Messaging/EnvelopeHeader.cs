using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Text;

namespace ZmqAspire.Messaging;

/// <summary>
/// The header frame of the ZQA1 envelope: the ASCII magic <c>ZQA1</c> and a line feed, then
/// one <c>key=value</c> line per field, each ended by a line feed (see docs/wire-format.md).
/// </summary>
/// <remarks>
/// <para>
/// An enveloped message is two ZeroMQ frames, <c>[header, body]</c>; a plain message is one
/// frame, the body. Keys are lower-case ASCII letters, digits, <c>-</c>, <c>_</c> and <c>.</c>;
/// values are printable ASCII (0x20-0x7E), which covers W3C Trace Context's
/// <c>traceparent</c> and <c>tracestate</c> as defined there. The whole header is at most
/// <see cref="MaxSize"/> bytes. Readers ignore keys they do not know, so fields can be added
/// without a new magic; a change that old readers would misread gets a new magic (<c>ZQA2</c>).
/// </para>
/// <para>Known fields: <see cref="TraceParentKey"/>, <see cref="TraceStateKey"/>,
/// <c>baggage</c> (W3C Baggage), <see cref="ClientIdKey"/>, <see cref="SequenceKey"/>.</para>
/// </remarks>
public sealed class EnvelopeHeader
{
    /// <summary>The magic that starts every header frame: version 1 of this format.</summary>
    public const string Magic = "ZQA1";

    /// <summary>The largest header frame read or written, in bytes.</summary>
    public const int MaxSize = 8192;

    /// <summary>W3C Trace Context <c>traceparent</c>: <c>version-traceid-parentid-flags</c>.</summary>
    public const string TraceParentKey = "traceparent";

    /// <summary>W3C Trace Context <c>tracestate</c>: vendor-specific key/value list.</summary>
    public const string TraceStateKey = "tracestate";

    /// <summary>The client's id, chosen by the client (for example host name and process id).</summary>
    public const string ClientIdKey = "client-id";

    /// <summary>The request's sequence number, a non-negative decimal integer; a reply echoes it.</summary>
    public const string SequenceKey = "seq";

    private static readonly byte[] MagicLine = Encoding.ASCII.GetBytes(Magic + "\n");
    private static readonly System.Buffers.SearchValues<byte> AllowedBytes =
        System.Buffers.SearchValues.Create([(byte)'\n', .. Enumerable.Range(0x20, 0x7E - 0x20 + 1).Select(b => (byte)b)]);
    private readonly List<KeyValuePair<string, string>> _fields = [];

    /// <summary>Gets the fields in wire order.</summary>
    public IReadOnlyList<KeyValuePair<string, string>> Fields => _fields;

    /// <summary>Gets or sets the request's sequence number (<c>seq</c>), if present and well formed.</summary>
    public long? Sequence
    {
        get => long.TryParse(this[SequenceKey], NumberStyles.None, CultureInfo.InvariantCulture, out var n) ? n : null;
        set => Set(SequenceKey, value?.ToString(CultureInfo.InvariantCulture));
    }

    /// <summary>Gets or sets the client's id (<c>client-id</c>).</summary>
    public string? ClientId
    {
        get => this[ClientIdKey];
        set => Set(ClientIdKey, value);
    }

    /// <summary>Gets the value of the first field named <paramref name="key"/>, or <see langword="null"/>.</summary>
    /// <param name="key">The field name.</param>
    public string? this[string key] => _fields.FirstOrDefault(f => f.Key == key).Value;

    /// <summary>Sets a field, replacing any field of that name; a <see langword="null"/> value removes it.</summary>
    /// <param name="key">The field name: lower-case ASCII letters, digits, <c>-</c>, <c>_</c>, <c>.</c>.</param>
    /// <param name="value">The value: printable ASCII (0x20-0x7E).</param>
    /// <exception cref="ArgumentException">The key or the value has a character the format does not allow.</exception>
    public void Set(string key, string? value)
    {
        if (!IsKey(key))
        {
            throw new ArgumentException($"Envelope field name '{key}' must be lower-case ASCII letters, digits, '-', '_' or '.'.", nameof(key));
        }

        if (value is not null && !IsValue(value))
        {
            throw new ArgumentException($"Envelope field '{key}' must be printable ASCII without line breaks.", nameof(value));
        }

        var index = _fields.FindIndex(f => f.Key == key);
        if (index >= 0)
        {
            _fields.RemoveAt(index);
        }

        if (value is not null)
        {
            _fields.Insert(index >= 0 ? index : _fields.Count, new(key, value));
        }
    }

    /// <summary>Writes the header frame.</summary>
    /// <returns>The frame's bytes.</returns>
    /// <exception cref="InvalidOperationException">The header would be larger than <see cref="MaxSize"/>.</exception>
    public byte[] ToFrame()
    {
        var text = new StringBuilder(Magic).Append('\n');
        foreach (var (key, value) in _fields)
        {
            text.Append(key).Append('=').Append(value).Append('\n');
        }

        var frame = Encoding.ASCII.GetBytes(text.ToString());
        return frame.Length <= MaxSize
            ? frame
            : throw new InvalidOperationException($"Envelope header is {frame.Length} bytes; the format allows {MaxSize}.");
    }

    /// <summary>Tells whether a frame starts with the header magic line (<c>ZQA1</c> and a line feed).</summary>
    /// <param name="frame">The frame.</param>
    /// <returns><see langword="true"/> when the frame claims to be a ZQA1 header.</returns>
    public static bool HasMagic(ReadOnlySpan<byte> frame) => frame.StartsWith(MagicLine);

    /// <summary>Reads a header frame without throwing.</summary>
    /// <param name="frame">The frame.</param>
    /// <param name="header">The header, when the result is <see langword="true"/>.</param>
    /// <returns><see langword="false"/> when the frame lacks the magic line, is larger than
    /// <see cref="MaxSize"/>, or has a line that is not <c>key=value</c> in the allowed characters.</returns>
    public static bool TryParse(ReadOnlySpan<byte> frame, [NotNullWhen(true)] out EnvelopeHeader? header)
    {
        header = null;
        if (frame.Length > MaxSize || !HasMagic(frame))
        {
            return false;
        }

        var body = frame[MagicLine.Length..];
        // Only printable ASCII and line feeds: checked on the bytes, since decoding as ASCII
        // would turn any other byte into '?' and let it through.
        if (body.ContainsAnyExcept(AllowedBytes))
        {
            return false;
        }

        // The last line's terminating line feed is optional when reading; empty lines are not allowed.
        var text = Encoding.ASCII.GetString(body.EndsWith("\n"u8) ? body[..^1] : body);
        var parsed = new EnvelopeHeader();
        foreach (var line in text.Length == 0 ? [] : text.Split('\n'))
        {
            var eq = line.IndexOf('=', StringComparison.Ordinal);
            if (eq <= 0 || !IsKey(line[..eq]) || !IsValue(line[(eq + 1)..]))
            {
                return false;
            }

            // First occurrence wins, as the indexer reads it.
            if (parsed[line[..eq]] is null)
            {
                parsed._fields.Add(new(line[..eq], line[(eq + 1)..]));
            }
        }

        header = parsed;
        return true;
    }

    private static bool IsKey(string key) =>
        key.Length > 0 && key.All(c => c is (>= 'a' and <= 'z') or (>= '0' and <= '9') or '-' or '_' or '.');

    private static bool IsValue(string value) => value.All(c => c is >= ' ' and <= '~');
}
