/** Who else has this list open right now: initials in each person's colour. */
import { memo } from 'react';
import type { Peer } from '../session/types';
import { readableTextOn } from './contrast';
import { initials, nameList } from './format';

const SHOWN_PEERS = 4;

export const Presence = memo(function Presence({ peers }: { peers: readonly Peer[] }) {
  const others = peers.filter((peer) => !peer.isSelf);
  if (others.length === 0) return null;
  const shown = others.slice(0, SHOWN_PEERS);
  const hidden = others.length - shown.length;
  const names = others.map((peer) => peer.name || 'Someone');
  return (
    <div className="presence" role="img" aria-label={`Also here: ${nameList(names, SHOWN_PEERS)}`}>
      {shown.map((peer) => (
        <span
          key={peer.clientId}
          className="avatar"
          style={{ backgroundColor: peer.color, color: readableTextOn(peer.color) }}
          title={peer.name}
          aria-hidden="true"
        >
          {initials(peer.name || '?')}
        </span>
      ))}
      {hidden > 0 && (
        <span className="avatar more" aria-hidden="true">
          +{hidden}
        </span>
      )}
    </div>
  );
});
