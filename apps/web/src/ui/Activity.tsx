/** Who added, checked and removed what, newest first (list.activity()). */
import type { ActivityEvent, ShoppingListApi } from '@basket/list-core';
import { Dialog } from './Dialog';
import { timeAgo } from './format';
import { useListValue } from './useListValue';
import { useNow } from './useNow';

const SHOWN_EVENTS = 100;

function readActivity(list: ShoppingListApi): readonly ActivityEvent[] {
  return list.activity(SHOWN_EVENTS);
}

function valueText(value: unknown): string {
  if (value === undefined || value === null || value === '') return 'nothing';
  return String(value);
}

export function describeActivity(event: ActivityEvent): string {
  const { actor, itemName } = event;
  switch (event.kind) {
    case 'added':
      return `${actor} added ${itemName}`;
    case 'checked':
      return `${actor} checked ${itemName}`;
    case 'unchecked':
      return `${actor} unchecked ${itemName}`;
    case 'removed':
      return `${actor} removed ${itemName}`;
    case 'restored':
      return `${actor} restored ${itemName}`;
    case 'renamed':
      return `${actor} renamed ${valueText(event.from)} to ${valueText(event.to)}`;
    case 'updated':
      // Changing only the unit of a merged row also writes the quantity the person saw, so that
      // a concurrent quantity change meets it under rule 5: that write changed nothing.
      if (event.from !== undefined && event.from === event.to) {
        return `${actor} kept ${itemName}'s ${event.field ?? 'details'} at ${valueText(event.to)}`;
      }
      return `${actor} changed ${itemName}'s ${event.field ?? 'details'} from ${valueText(event.from)} to ${valueText(event.to)}`;
    case 'merged':
      return `${actor} also added ${itemName} (merged into one)`;
    case 'cleared':
      return `${actor} cleared ${itemName} from the cart`;
    default:
      return `${actor} changed ${itemName}`;
  }
}

export function ActivityLog({ list, onClose }: { list: ShoppingListApi; onClose: () => void }) {
  const [events] = useListValue(list, readActivity);
  const now = useNow(60_000);
  return (
    <Dialog title="Activity" onClose={onClose}>
      {events.length === 0 ? (
        <p className="muted">No activity yet.</p>
      ) : (
        <ol className="plain-list activity-list" role="list">
          {events.map((event) => (
            <li key={event.id} className="activity-row">
              <span>{describeActivity(event)}</span>
              {event.overwrittenBy && (
                <span className="item-details"> · replaced by {event.overwrittenBy}'s change</span>
              )}
              <span className="item-details"> · {timeAgo(event.at, now)}</span>
            </li>
          ))}
        </ol>
      )}
    </Dialog>
  );
}
