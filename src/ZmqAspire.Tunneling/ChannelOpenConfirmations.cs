using System.Reflection;
using Renci.SshNet;
using Renci.SshNet.Messages.Connection;

namespace ZmqAspire.Tunneling;

/// <summary>
/// Hears the SSH server confirm a channel open (SSH_MSG_CHANNEL_OPEN_CONFIRMATION, RFC 4254
/// section 5.1): the counterpart of <see cref="ChannelOpenFailures"/>, reached the same way (SSH.NET's
/// internal <c>Session</c> raises it; no public hook, sshnet/SSH.NET#732). A
/// <see cref="SelfHealingForward"/> uses it to learn that a target it saw refused is reachable
/// again. When SSH.NET lacks it nothing is reported, and a target seen down is retried on its
/// backoff alone.
/// </summary>
internal static class ChannelOpenConfirmations
{
    private static readonly PropertyInfo? SessionProperty = typeof(BaseClient).GetProperty("Session", BindingFlags.Instance | BindingFlags.NonPublic);
    private static readonly EventInfo? ConfirmationEvent = SshFastPath.SshNetSessionType?.GetEvent("ChannelOpenConfirmationReceived", BindingFlags.Instance | BindingFlags.Public);

    /// <summary>Calls <paramref name="onConfirmed"/> with our channel number on SSH.NET's receive thread for every channel open the server confirms; false when SSH.NET offers nothing to subscribe to.</summary>
    public static bool TrySubscribe(SshClient client, Action<uint> onConfirmed)
    {
        var session = SessionProperty?.GetValue(client);
        if (session is null || ConfirmationEvent is null || ConfirmationEvent.EventHandlerType != typeof(EventHandler<MessageEventArgs<ChannelOpenConfirmationMessage>>))
        {
            return false;
        }

        ConfirmationEvent.AddEventHandler(session, new EventHandler<MessageEventArgs<ChannelOpenConfirmationMessage>>((_, e) => onConfirmed(e.Message.LocalChannelNumber)));
        return true;
    }
}
