using System.Buffers.Binary;
using System.Diagnostics.CodeAnalysis;
using System.Linq.Expressions;
using System.Reflection;

namespace ZmqAspire.Tunneling;

/// <summary>
/// Tells, on SSH.NET's receive thread while it handles one message from the server, whether the
/// next message is already read whole into its receive buffer: then SSH.NET handles it at once,
/// without waiting on the socket, and what the current message asks of us (an ACK, a write to a
/// local socket) can wait for the last message of the read and be done once for all of them.
/// </summary>
/// <remarks>
/// <para>
/// Why: SSH.NET reads the server's stream in large reads and handles the messages in them one
/// at a time. A relay that writes each data message to its local socket on arrival makes one
/// send(2) per SSH message where OpenSSH's <c>ssh</c>, which drains a read into the channel's
/// buffer before writing it, makes one per read: measured in a 64 B DEALER↔ROUTER stream
/// (docs/benchmarks.md, session 11), SSH.NET's thread made 15,015 sends and 15,201
/// TCP_QUICKACK setsockopts for 2,566 reads in 3 s, where <c>ssh</c> made 4,070 writes and
/// 4,066 reads in all.
/// </para>
/// <para>
/// How: SSH.NET 2026.0's <c>Session._receiveBuffer</c> (an internal <c>ArrayBuffer</c> struct)
/// holds what was read and not yet handled, the message being handled already discarded from
/// it. With AES-GCM (RFC 5647, which <see cref="SshFastPath.PreferAesGcm"/> puts first) the
/// 4-byte packet length is sent in the clear, so whether a whole packet (length, body and the
/// 16-byte tag) is there can be read without decrypting. With any other cipher the length is
/// encrypted (or the members are missing: another SSH.NET version), and the answer is always
/// "no", which is the behaviour without this class: everything is done per message.
/// Reached with compiled expressions, read only on the receive thread, which alone changes them.
/// </para>
/// </remarks>
internal static class ReceivedAhead
{
    private const BindingFlags NonPublicInstance = BindingFlags.Instance | BindingFlags.NonPublic;

    /// <summary>The AES-GCM authentication tag that follows each packet, in bytes (RFC 5647 section 7.3).</summary>
    private const int GcmTagSize = 16;

    /// <summary>SSH.NET's internal <c>System.Net.ArrayBuffer</c>, named by a literal so the trimmer keeps its fields.</summary>
    [DynamicallyAccessedMembers(DynamicallyAccessedMemberTypes.NonPublicFields)]
    private static readonly Type? ArrayBufferType = Type.GetType("System.Net.ArrayBuffer, Renci.SshNet");

    /// <summary>SSH.NET's AES-GCM cipher type: the one whose packet lengths are in the clear.</summary>
    private static readonly Type? AesGcmType = Type.GetType("Renci.SshNet.Security.Cryptography.Ciphers.AesGcmCipher, Renci.SshNet");

    private static readonly Accessors? Members = Compile();

    // What EndsRead last answered on this thread (a session's receive thread), and for which message.
    [ThreadStatic]
    private static EventArgs? lastMessage;

    [ThreadStatic]
    private static bool lastEndsRead;

    /// <summary>Gets a value indicating whether this SSH.NET has the members read here.</summary>
    public static bool Available => Members is not null;

    /// <summary>
    /// Whether the message whose event is being raised is the last of its read (the next one is
    /// not already read whole, <see cref="NextMessageBuffered"/>), told once per message:
    /// <see cref="QuickAck"/>, subscribed first, and <see cref="ChannelMux"/>, subscribed last,
    /// both ask for the same message, and the receive buffer cannot change in between (only this
    /// thread reads into it). Call only from a handler of SSH.NET's message events, on its receive thread.
    /// </summary>
    /// <param name="session">SSH.NET's internal <c>Session</c>.</param>
    /// <param name="message">The event's arguments: SSH.NET makes one object per message and passes it to every handler.</param>
    public static bool EndsRead(object session, EventArgs message)
    {
        if (!ReferenceEquals(message, lastMessage))
        {
            lastEndsRead = !NextMessageBuffered(session);
            lastMessage = message;
        }

        return lastEndsRead;
    }

    /// <summary>
    /// Whether the message after the one being handled is already read whole; false when it is
    /// not, cannot be told (not AES-GCM), or the members are missing. Call only on the receive thread.
    /// </summary>
    /// <param name="session">SSH.NET's internal <c>Session</c>.</param>
    public static bool NextMessageBuffered(object session)
    {
        if (Members is not { } m || m.Cipher(session)?.GetType() != AesGcmType)
        {
            return false;
        }

        var start = m.Start(session);
        var length = m.End(session) - start;
        if (length < 4 || m.Bytes(session) is not { } bytes || bytes.Length < start + 4)
        {
            return false;
        }

        var packetLength = BinaryPrimitives.ReadInt32BigEndian(bytes.AsSpan(start, 4));
        return packetLength > 0 && length >= 4L + packetLength + GcmTagSize;
    }

    /// <summary>
    /// Whether a key exchange is under way: from the server's SSH_MSG_KEXINIT until SSH.NET has
    /// handled its SSH_MSG_NEWKEYS (RFC 4253 section 7), SSH.NET's <c>SendMessage</c> makes every
    /// message but the key exchange's wait for the exchange to end, and only the receive thread
    /// can end it. True as well when it cannot be told (then held data never goes out on the receive thread).
    /// </summary>
    /// <param name="session">SSH.NET's internal <c>Session</c>.</param>
    public static bool KeyExchangeInProgress(object session) =>
        Members is not { } m || m.KeyExchangeCompleted(session) is not { IsSet: true };

    private static Accessors? Compile()
    {
        if (SshFastPath.SshNetSessionType is not { } sessionType || ArrayBufferType is null || AesGcmType is null)
        {
            return null;
        }

        var buffer = sessionType.GetField("_receiveBuffer", NonPublicInstance);
        var cipher = sessionType.GetField("_serverCipher", NonPublicInstance);
        var bytes = ArrayBufferType.GetField("_bytes", NonPublicInstance);
        var start = ArrayBufferType.GetField("_activeStart", NonPublicInstance);
        var end = ArrayBufferType.GetField("_availableStart", NonPublicInstance);
        var keyExchangeCompleted = sessionType.GetField("_keyExchangeCompletedWaitHandle", NonPublicInstance);
        if (keyExchangeCompleted?.FieldType != typeof(ManualResetEventSlim)
            || buffer?.FieldType != ArrayBufferType || cipher is null || bytes?.FieldType != typeof(byte[]) || start?.FieldType != typeof(int) || end?.FieldType != typeof(int))
        {
            return null;
        }

        try
        {
            var session = Expression.Parameter(typeof(object), "session");
            var typed = Expression.Convert(session, sessionType);
            var receiveBuffer = Expression.Field(typed, buffer);
            return new Accessors(
                Expression.Lambda<Func<object, object?>>(Expression.Convert(Expression.Field(typed, cipher), typeof(object)), session).Compile(),
                Expression.Lambda<Func<object, byte[]?>>(Expression.Field(receiveBuffer, bytes), session).Compile(),
                Expression.Lambda<Func<object, int>>(Expression.Field(receiveBuffer, start), session).Compile(),
                Expression.Lambda<Func<object, int>>(Expression.Field(receiveBuffer, end), session).Compile(),
                Expression.Lambda<Func<object, ManualResetEventSlim?>>(Expression.Field(typed, keyExchangeCompleted), session).Compile());
        }
        catch (Exception ex) when (ex is ArgumentException or InvalidOperationException or NotSupportedException)
        {
            return null;
        }
    }

    private sealed record Accessors(
        Func<object, object?> Cipher,
        Func<object, byte[]?> Bytes,
        Func<object, int> Start,
        Func<object, int> End,
        Func<object, ManualResetEventSlim?> KeyExchangeCompleted);
}
