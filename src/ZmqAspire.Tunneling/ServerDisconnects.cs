using System.Globalization;
using System.Reflection;
using Renci.SshNet;
using Renci.SshNet.Messages.Transport;

namespace ZmqAspire.Tunneling;

/// <summary>
/// Hears the SSH server end the session cleanly (SSH_MSG_DISCONNECT, RFC 4253 section 11.1),
/// which SSH.NET 2026.0.0 does not report: it marks itself disconnecting, closes its socket and
/// raises no <c>ErrorOccurred</c> for the message nor for the end of the connection that follows,
/// so a session the server ended looked alive to anything but a poll of <c>IsConnected</c>. The
/// message and its event arguments are public types; only the event's owner, SSH.NET's internal
/// <c>Session</c> (<see cref="SshFastPath.SshNetSessionType"/>), is reached by reflection. When it
/// is missing (another SSH.NET) nothing is heard, and the loss is noticed as before, by polling.
/// </summary>
internal static class ServerDisconnects
{
    private static readonly PropertyInfo? SessionProperty = typeof(BaseClient).GetProperty("Session", BindingFlags.Instance | BindingFlags.NonPublic);
    private static readonly EventInfo? DisconnectEvent = SshFastPath.SshNetSessionType?.GetEvent("DisconnectReceived", BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic);

    /// <summary>
    /// Calls <paramref name="onDisconnect"/> with the reason code and description of the
    /// server's SSH_MSG_DISCONNECT on <paramref name="client"/>'s session, on SSH.NET's receive
    /// thread, before SSH.NET closes its socket and raises its <c>Disconnected</c> event. Returns
    /// false when SSH.NET offers nothing to subscribe to.
    /// </summary>
    public static bool TrySubscribe(SshClient client, Action<DisconnectReason, string> onDisconnect)
    {
        var session = SessionProperty?.GetValue(client);
        if (session is null || DisconnectEvent?.GetAddMethod(nonPublic: true) is not { } add
            || DisconnectEvent.EventHandlerType != typeof(EventHandler<MessageEventArgs<DisconnectMessage>>))
        {
            return false;
        }

        add.Invoke(session, [new EventHandler<MessageEventArgs<DisconnectMessage>>((_, e) => onDisconnect(e.Message.ReasonCode, e.Message.Description))]);
        return true;
    }

    /// <summary>
    /// Describes a server's disconnect for the session's error, for example
    /// <c>The SSH server closed the session: ieof packet referred to nonexistent channel 4242 (SSH_DISCONNECT_PROTOCOL_ERROR, reason code 2)</c>.
    /// </summary>
    /// <param name="reason">The reason code the server sent.</param>
    /// <param name="description">The description the server sent (may be empty).</param>
    public static string Describe(DisconnectReason reason, string? description) =>
        string.Create(
            CultureInfo.InvariantCulture,
            $"The SSH server closed the session: {(string.IsNullOrWhiteSpace(description) ? "no description given" : description.Trim())} ({ReasonName(reason)}, reason code {(uint)reason})");

    /// <summary>RFC 4253 section 11.1's name for a reason code.</summary>
    public static string ReasonName(DisconnectReason reason) => (uint)reason switch
    {
        1 => "SSH_DISCONNECT_HOST_NOT_ALLOWED_TO_CONNECT",
        2 => "SSH_DISCONNECT_PROTOCOL_ERROR",
        3 => "SSH_DISCONNECT_KEY_EXCHANGE_FAILED",
        4 => "SSH_DISCONNECT_RESERVED",
        5 => "SSH_DISCONNECT_MAC_ERROR",
        6 => "SSH_DISCONNECT_COMPRESSION_ERROR",
        7 => "SSH_DISCONNECT_SERVICE_NOT_AVAILABLE",
        8 => "SSH_DISCONNECT_PROTOCOL_VERSION_NOT_SUPPORTED",
        9 => "SSH_DISCONNECT_HOST_KEY_NOT_VERIFIABLE",
        10 => "SSH_DISCONNECT_CONNECTION_LOST",
        11 => "SSH_DISCONNECT_BY_APPLICATION",
        12 => "SSH_DISCONNECT_TOO_MANY_CONNECTIONS",
        13 => "SSH_DISCONNECT_AUTH_CANCELLED_BY_USER",
        14 => "SSH_DISCONNECT_NO_MORE_AUTH_METHODS_AVAILABLE",
        15 => "SSH_DISCONNECT_ILLEGAL_USER_NAME",
        _ => "a reason code RFC 4253 does not name",
    };
}
