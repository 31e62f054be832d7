using System.Text;

namespace ZmqAspire.Messaging.Tests;

/// <summary>The ZQA1 header frame: docs/wire-format.md, byte for byte.</summary>
public sealed class EnvelopeHeaderTests
{
    [Fact]
    public void Writes_the_magic_line_then_one_line_per_field()
    {
        var header = new EnvelopeHeader { Sequence = 42, ClientId = "host/7" };
        header.Set(EnvelopeHeader.TraceParentKey, "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");

        var text = Encoding.ASCII.GetString(header.ToFrame());

        Assert.Equal("ZQA1\nseq=42\nclient-id=host/7\ntraceparent=00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01\n", text);
    }

    [Fact]
    public void Reads_back_what_it_writes()
    {
        var header = new EnvelopeHeader { Sequence = 7, ClientId = "c" };
        header.Set(EnvelopeHeader.TraceStateKey, "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7");

        Assert.True(EnvelopeHeader.TryParse(header.ToFrame(), out var read));
        Assert.Equal(7, read.Sequence);
        Assert.Equal("c", read.ClientId);
        Assert.Equal("congo=t61rcWkgMzE,rojo=00f067aa0ba902b7", read[EnvelopeHeader.TraceStateKey]);
    }

    [Theory]
    [InlineData("ZQA1\nseq=1")]             // last line feed optional when reading
    [InlineData("ZQA1\n")]                  // no fields
    [InlineData("ZQA1\nfuture-field=x\nseq=1\n")] // unknown keys are ignored, not refused
    public void Accepts_well_formed_variants(string frame) =>
        Assert.True(EnvelopeHeader.TryParse(Encoding.ASCII.GetBytes(frame), out _));

    [Theory]
    [InlineData("Hello")]                   // a plain body
    [InlineData("ZQA2\nseq=1\n")]           // another version
    [InlineData("ZQA1 seq=1\n")]            // magic not on a line of its own
    [InlineData("ZQA1\nseq\n")]             // not key=value
    [InlineData("ZQA1\n=1\n")]              // empty key
    [InlineData("ZQA1\nSeq=1\n")]           // upper case key
    [InlineData("ZQA1\nseq=1\n\n")]         // empty line
    [InlineData("ZQA1\nseq=\u00e9\n")]      // non-ASCII value
    public void Refuses_malformed_frames(string frame) =>
        Assert.False(EnvelopeHeader.TryParse(Encoding.UTF8.GetBytes(frame), out _));

    [Fact]
    public void Refuses_a_frame_over_the_size_limit()
    {
        var frame = Encoding.ASCII.GetBytes("ZQA1\nx=" + new string('a', EnvelopeHeader.MaxSize));
        Assert.False(EnvelopeHeader.TryParse(frame, out _));
    }

    [Fact]
    public void First_occurrence_of_a_key_wins()
    {
        Assert.True(EnvelopeHeader.TryParse("ZQA1\nseq=1\nseq=2\n"u8, out var header));
        Assert.Equal(1, header.Sequence);
    }

    [Theory]
    [InlineData("Bad Key", "v")]
    [InlineData("key", "line\nbreak")]
    [InlineData("key", "caf\u00e9")]
    public void Set_refuses_what_the_format_cannot_carry(string key, string value) =>
        Assert.Throws<ArgumentException>(() => new EnvelopeHeader().Set(key, value));

    [Fact]
    public void A_non_numeric_sequence_reads_as_none()
    {
        Assert.True(EnvelopeHeader.TryParse("ZQA1\nseq=-1\n"u8, out var header));
        Assert.Null(header.Sequence);
    }
}
