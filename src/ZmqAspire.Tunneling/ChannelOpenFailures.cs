using System.Reflection;
using Renci.SshNet;
using Renci.SshNet.Messages.Connection;

namespace ZmqAspire.Tunneling;

/// <summary>
/// Hears the SSH server refuse to open a channel (SSH_MSG_CHANNEL_OPEN_FAILURE, RFC 4254 section
/// 5.1), which SSH.NET 2026.0.0 handles silently for a forward: it closes the accepted connection
/// and reports nothing, so a forward whose target is down looks like a flaky connection. The
/// message and its event arguments are public types; only the event's owner, SSH.NET's internal
/// <c>Session</c> (<see cref="SshFastPath.SshNetSessionType"/>, kept by the trimmer), is reached by
/// reflection (no public hook: sshnet/SSH.NET#732). When it is missing (another SSH.NET) nothing
/// is reported and the forward still works.
/// </summary>
internal static class ChannelOpenFailures
{
    private static readonly PropertyInfo? SessionProperty = typeof(BaseClient).GetProperty("Session", BindingFlags.Instance | BindingFlags.NonPublic);
    private static readonly EventInfo? FailureEvent = SshFastPath.SshNetSessionType?.GetEvent("ChannelOpenFailureReceived", BindingFlags.Instance | BindingFlags.Public);

    /// <summary>
    /// Calls <paramref name="onFailure"/> with the channel number, reason code and description of every channel
    /// open the server refuses on <paramref name="client"/>'s session. Returns false when SSH.NET
    /// offers nothing to subscribe to.
    /// </summary>
    public static bool TrySubscribe(SshClient client, Action<uint, uint, string> onFailure)
    {
        var session = SessionProperty?.GetValue(client);
        if (session is null || FailureEvent is null || FailureEvent.EventHandlerType != typeof(EventHandler<MessageEventArgs<ChannelOpenFailureMessage>>))
        {
            return false;
        }

        FailureEvent.AddEventHandler(session, new EventHandler<MessageEventArgs<ChannelOpenFailureMessage>>((_, e) => onFailure(e.Message.LocalChannelNumber, e.Message.ReasonCode, e.Message.Description)));
        return true;
    }

    /// <summary>RFC 4254 section 5.1's name for a reason code.</summary>
    public static string ReasonName(uint code) => code switch
    {
        1 => "SSH_OPEN_ADMINISTRATIVELY_PROHIBITED",
        2 => "SSH_OPEN_CONNECT_FAILED",
        3 => "SSH_OPEN_UNKNOWN_CHANNEL_TYPE",
        4 => "SSH_OPEN_RESOURCE_SHORTAGE",
        _ => $"reason {code}",
    };
}
