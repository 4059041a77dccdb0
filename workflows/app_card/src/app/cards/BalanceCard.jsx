// The card's entry point: HubSpot loads this file and calls hubspot.extend. The card itself is in
// BalanceCardView.jsx, so tests can render it without HubSpot's worker globals.
import React from 'react';
import { hubspot } from '@hubspot/ui-extensions';
import { BalanceCardView } from './BalanceCardView.jsx';

hubspot.extend(({ context }) => <BalanceCardView context={context} fetcher={hubspot.fetch} />);
